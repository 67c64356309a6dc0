//! The broker-lite: sessions by client id (one connection each, the newer
//! takes over), subscriptions, retained messages when switched on, and
//! delivery. A persistent session (3.1.1 clean session 0, or 5.0 session
//! expiry > 0) keeps its subscriptions while its client is away and queues
//! the QoS 1 messages meant for it, until it comes back or expires, as AWS
//! IoT's persistent sessions do. Locks are taken per CONNECT, SUBSCRIBE and
//! PUBLISH, never per byte.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::counters::Counters;
use crate::mqtt::{topic, Properties, QoS};

/// One published message, shared by every delivery of it.
#[derive(Debug)]
pub(crate) struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    /// The properties forwarded to subscribers (user properties, payload
    /// format, content type, response topic, correlation data); message
    /// expiry travels as `expires_at` and is rewritten per delivery.
    pub properties: Properties,
    /// When the Message Expiry Interval runs out.
    pub expires_at: Option<Instant>,
    /// The publishing client (for No Local); `None` for a will.
    pub origin: Option<Arc<str>>,
    /// The PUBLISH carried the retain flag.
    pub retain: bool,
}

/// What the broker hands a session task.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub msg: Arc<Message>,
    /// Granted QoS: the lower of the message's and the subscription's.
    pub qos: QoS,
    /// Retain flag as sent: the message's with Retain As Published, or for
    /// a retained message sent because of a new subscription.
    pub retain: bool,
    /// Resent after a reconnect (unacknowledged before).
    pub dup: bool,
}

/// Subscription options byte (MQTT 5.0 3.8.3.1).
const NO_LOCAL: u8 = 0x04;
const RETAIN_AS_PUBLISHED: u8 = 0x08;

struct SubEntry {
    filter: String,
    client: Arc<str>,
    qos: QoS,
    options: u8,
}

/// Where a client's deliveries go.
enum State {
    /// Connected; `tx` exists once it has subscribed.
    Online(Option<mpsc::Sender<Outbound>>),
    /// A persistent session whose client is away.
    Offline {
        queue: VecDeque<Outbound>,
        expires_at: Instant,
    },
}

struct Slot {
    /// The connection that owns the session now.
    id: u64,
    kick: Arc<Notify>,
    state: State,
}

/// What `register` found.
pub(crate) struct Resumed {
    /// This connection's number.
    pub id: u64,
    /// A session was resumed (CONNACK session present).
    pub present: bool,
    /// QoS 1 messages queued while the client was away.
    pub queued: Vec<Outbound>,
    /// It already has subscriptions (a delivery channel is needed at once).
    pub subscribed: bool,
}

/// Sessions, subscriptions and retained messages of one endpoint.
pub(crate) struct Broker {
    sessions: Mutex<HashMap<Arc<str>, Slot>>,
    subs: RwLock<Vec<SubEntry>>,
    retained: Mutex<HashMap<Arc<str>, Arc<Message>>>,
    next_id: AtomicU64,
    counters: Arc<Counters>,
    /// Most messages queued for an away session; older ones are dropped.
    max_queued: usize,
}

impl Broker {
    pub(crate) fn new(counters: Arc<Counters>, max_queued: usize) -> Broker {
        Broker {
            sessions: Mutex::new(HashMap::new()),
            subs: RwLock::new(Vec::new()),
            retained: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            counters,
            max_queued,
        }
    }

    /// Drops away sessions whose expiry has passed and returns their
    /// names; the caller removes their subscriptions once it has released
    /// the sessions lock (publish takes subs, then sessions: taking them the
    /// other way round here could deadlock).
    fn sweep(sessions: &mut HashMap<Arc<str>, Slot>) -> Vec<Arc<str>> {
        let now = Instant::now();
        let expired: Vec<Arc<str>> = sessions
            .iter()
            .filter(
                |(_, s)| matches!(s.state, State::Offline { expires_at, .. } if expires_at <= now),
            )
            .map(|(k, _)| k.clone())
            .collect();
        for k in &expired {
            sessions.remove(k);
        }
        expired
    }

    fn drop_subs(&self, clients: &[Arc<str>]) {
        if !clients.is_empty() {
            self.subs
                .write()
                .expect("subs lock")
                .retain(|e| !clients.contains(&e.client));
        }
    }

    /// Registers a connection for `client`, telling an older one with the
    /// same id to go. With `clean_start` the old session's state is
    /// discarded; without, it is resumed (subscriptions kept, queued
    /// messages handed over).
    pub(crate) fn register(
        &self,
        client: &Arc<str>,
        kick: Arc<Notify>,
        clean_start: bool,
    ) -> Resumed {
        let id = self.next_id.fetch_add(1, Relaxed);
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let expired = Self::sweep(&mut sessions);
        let old = sessions.insert(
            client.clone(),
            Slot {
                id,
                kick,
                state: State::Online(None),
            },
        );
        let mut queued = Vec::new();
        let had_session = old.is_some();
        if let Some(old) = old {
            match old.state {
                // notify_one stores a permit if the old task is not waiting yet.
                State::Online(_) => old.kick.notify_one(),
                State::Offline { queue, .. } => queued = queue.into(),
            }
        }
        drop(sessions);
        self.drop_subs(&expired);
        let mut subs = self.subs.write().expect("subs lock");
        if clean_start {
            subs.retain(|e| &e.client != client);
            queued.clear();
        }
        let subscribed = subs.iter().any(|e| &e.client == client);
        Resumed {
            id,
            present: had_session && !clean_start,
            queued,
            subscribed,
        }
    }

    /// The channel deliveries for `client` go to (created by its first
    /// SUBSCRIBE, or at once for a resumed session with subscriptions).
    pub(crate) fn attach(&self, client: &Arc<str>, id: u64, tx: mpsc::Sender<Outbound>) {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if let Some(s) = sessions.get_mut(client).filter(|s| s.id == id) {
            s.state = State::Online(Some(tx));
        }
    }

    /// The connection ended. A session with an expiry stays, away, for
    /// that long, queueing `unacked` first (resent with DUP); without one it
    /// goes with its subscriptions. Nothing happens when a newer connection
    /// took the session over.
    pub(crate) fn unregister(
        &self,
        client: &Arc<str>,
        id: u64,
        expiry: std::time::Duration,
        unacked: Vec<Outbound>,
    ) {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if sessions.get(client).is_none_or(|s| s.id != id) {
            return;
        }
        if expiry.is_zero() {
            sessions.remove(client);
            drop(sessions);
            self.drop_subs(std::slice::from_ref(client));
            return;
        }
        if let Some(s) = sessions.get_mut(client) {
            let mut queue: VecDeque<Outbound> = unacked
                .into_iter()
                .map(|mut o| {
                    o.dup = true;
                    o
                })
                .collect();
            queue.truncate(self.max_queued);
            s.state = State::Offline {
                queue,
                expires_at: Instant::now() + expiry,
            };
        }
    }

    /// The connection that owns `client`'s session now, if any.
    pub(crate) fn owner(&self, client: &str) -> Option<u64> {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let expired = Self::sweep(&mut sessions);
        let owner = sessions.get(client).map(|s| s.id);
        drop(sessions);
        self.drop_subs(&expired);
        owner
    }

    /// Adds (or replaces, MQTT 3.8.4) a subscription; returns the retained
    /// messages it should receive now.
    pub(crate) fn subscribe(
        &self,
        client: &Arc<str>,
        filter: &str,
        qos: QoS,
        options: u8,
    ) -> Vec<Outbound> {
        let is_new = {
            let mut subs = self.subs.write().expect("subs lock");
            let before = subs.len();
            subs.retain(|e| !(&e.client == client && e.filter == filter));
            let replaced = subs.len() != before;
            subs.push(SubEntry {
                filter: filter.to_string(),
                client: client.clone(),
                qos,
                options,
            });
            !replaced
        };
        // Retain Handling: 0 send, 1 send if the subscription is new, 2 never.
        let handling = (options >> 4) & 0x03;
        if handling == 2 || (handling == 1 && !is_new) {
            return Vec::new();
        }
        let now = Instant::now();
        self.retained
            .lock()
            .expect("retained lock")
            .values()
            .filter(|m| topic::matches(filter, &m.topic))
            .filter(|m| m.expires_at.is_none_or(|t| t > now))
            .map(|m| Outbound {
                msg: m.clone(),
                qos: m.qos.min(qos),
                retain: true,
                dup: false,
            })
            .collect()
    }

    pub(crate) fn unsubscribe(&self, client: &Arc<str>, filter: &str) -> bool {
        let mut subs = self.subs.write().expect("subs lock");
        let before = subs.len();
        subs.retain(|e| !(&e.client == client && e.filter == filter));
        subs.len() != before
    }

    /// Stores (or, with an empty payload, clears) the retained message of
    /// its topic.
    pub(crate) fn retain(&self, msg: &Arc<Message>) {
        let mut r = self.retained.lock().expect("retained lock");
        if msg.payload.is_empty() {
            r.remove(&msg.topic);
        } else {
            r.insert(msg.topic.clone(), msg.clone());
        }
    }

    /// Delivers to every matching subscription: once per client, at the
    /// highest matching QoS, skipping the publisher's own No Local
    /// subscriptions; queues QoS 1 for away persistent sessions (QoS 0 is
    /// not kept, as AWS does); drops when a connected client's queue is full.
    pub(crate) fn publish(&self, msg: Arc<Message>) {
        let subs = self.subs.read().expect("subs lock");
        let mut best: HashMap<&Arc<str>, (QoS, bool)> = HashMap::new();
        for e in subs
            .iter()
            .filter(|e| topic::matches(&e.filter, &msg.topic))
        {
            if e.options & NO_LOCAL != 0 && msg.origin.as_ref() == Some(&e.client) {
                continue;
            }
            let q = e.qos.min(msg.qos);
            let rap = e.options & RETAIN_AS_PUBLISHED != 0 && msg.retain;
            let slot = best.entry(&e.client).or_insert((q, rap));
            if q > slot.0 {
                slot.0 = q;
            }
            slot.1 |= rap;
        }
        if best.is_empty() {
            return;
        }
        let mut sessions = self.sessions.lock().expect("sessions lock");
        for (client, (qos, retain)) in best {
            let out = Outbound {
                msg: msg.clone(),
                qos,
                retain,
                dup: false,
            };
            let Some(slot) = sessions.get_mut(client) else {
                continue;
            };
            match &mut slot.state {
                State::Online(Some(tx)) => match tx.try_send(out) {
                    Ok(()) => self.counters.publishes_out.fetch_add(1, Relaxed),
                    Err(_) => self.counters.deliveries_dropped.fetch_add(1, Relaxed),
                },
                State::Online(None) => 0,
                State::Offline { queue, .. } if qos == QoS::AtLeastOnce => {
                    if queue.len() >= self.max_queued {
                        queue.pop_front();
                        self.counters.deliveries_dropped.fetch_add(1, Relaxed);
                    }
                    queue.push_back(out);
                    self.counters.messages_queued.fetch_add(1, Relaxed)
                }
                State::Offline { .. } => self.counters.deliveries_dropped.fetch_add(1, Relaxed),
            };
        }
    }
}
