//! The broker-lite: who is connected (one session per client id, the newer
//! connection takes over), who subscribed to what, and delivery. Locks are
//! taken per CONNECT, SUBSCRIBE and PUBLISH, never per byte.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use super::counters::Counters;
use crate::mqtt::{topic, QoS};

/// What the broker hands a session task.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A message for one of the session's subscriptions.
    Deliver {
        topic: Arc<str>,
        payload: Bytes,
        qos: QoS,
    },
}

struct SubEntry {
    filter: String,
    session: u64,
    qos: QoS,
    tx: mpsc::Sender<Outbound>,
}

/// Sessions and subscriptions of one endpoint.
pub(crate) struct Broker {
    /// Per client id: the session's number and how to tell it to go.
    /// (A Notify, not a channel: sessions that never subscribe should not
    /// pay for a channel's buffer.)
    sessions: Mutex<HashMap<String, (u64, Arc<Notify>)>>,
    subs: RwLock<Vec<SubEntry>>,
    next_id: AtomicU64,
    counters: Arc<Counters>,
}

impl Broker {
    pub(crate) fn new(counters: Arc<Counters>) -> Broker {
        Broker {
            sessions: Mutex::new(HashMap::new()),
            subs: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(1),
            counters,
        }
    }

    /// Registers a session, telling an older one with the same id to go.
    pub(crate) fn register(&self, client_id: &str, kick: Arc<Notify>) -> u64 {
        let id = self.next_id.fetch_add(1, Relaxed);
        let old = self
            .sessions
            .lock()
            .expect("sessions lock")
            .insert(client_id.to_string(), (id, kick));
        if let Some((_, old_kick)) = old {
            // notify_one stores a permit if the old session is not waiting yet.
            old_kick.notify_one();
        }
        id
    }

    /// Removes a session and its subscriptions (unless a newer one took the id).
    pub(crate) fn unregister(&self, client_id: &str, id: u64) {
        {
            let mut s = self.sessions.lock().expect("sessions lock");
            if s.get(client_id).is_some_and(|(cur, _)| *cur == id) {
                s.remove(client_id);
            }
        }
        self.subs
            .write()
            .expect("subs lock")
            .retain(|e| e.session != id);
    }

    pub(crate) fn subscribe(
        &self,
        session: u64,
        filter: &str,
        qos: QoS,
        tx: &mpsc::Sender<Outbound>,
    ) {
        let mut subs = self.subs.write().expect("subs lock");
        // A repeated filter replaces the earlier subscription (MQTT 3.8.4).
        subs.retain(|e| !(e.session == session && e.filter == filter));
        subs.push(SubEntry {
            filter: filter.to_string(),
            session,
            qos,
            tx: tx.clone(),
        });
    }

    pub(crate) fn unsubscribe(&self, session: u64, filter: &str) -> bool {
        let mut subs = self.subs.write().expect("subs lock");
        let before = subs.len();
        subs.retain(|e| !(e.session == session && e.filter == filter));
        subs.len() != before
    }

    /// Delivers to every matching subscription (once per session, at the
    /// highest matching QoS), dropping when a subscriber's queue is full.
    pub(crate) fn publish(&self, topic_name: &str, payload: Bytes, qos: QoS) {
        let subs = self.subs.read().expect("subs lock");
        let mut best: HashMap<u64, (QoS, &mpsc::Sender<Outbound>)> = HashMap::new();
        for e in subs
            .iter()
            .filter(|e| topic::matches(&e.filter, topic_name))
        {
            let q = e.qos.min(qos);
            let slot = best.entry(e.session).or_insert((q, &e.tx));
            if q > slot.0 {
                *slot = (q, &e.tx);
            }
        }
        if best.is_empty() {
            return;
        }
        let shared: Arc<str> = Arc::from(topic_name);
        for (_, (q, tx)) in best {
            let msg = Outbound::Deliver {
                topic: shared.clone(),
                payload: payload.clone(),
                qos: q,
            };
            match tx.try_send(msg) {
                Ok(()) => self.counters.publishes_out.fetch_add(1, Relaxed),
                Err(_) => self.counters.deliveries_dropped.fetch_add(1, Relaxed),
            };
        }
    }
}
