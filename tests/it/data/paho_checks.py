"""MQTT 3.1.1 and 5 behaviour of chainstorm's endpoint, seen by real clients:
Eclipse Paho (paho-mqtt from PyPI) for everything Paho can send, and a raw
TLS socket (Python's ssl, i.e. OpenSSL) for the violations Paho refuses to
send. Every connection is TLS with SNI to the ATS endpoint name, verified
against Amazon Root CA 1 of the mock PKI.

usage: python3 paho_checks.py PORT CA_PEM SNI
prints one JSON object: check name -> what was observed.
"""

import json
import queue
import socket
import ssl
import struct
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

PORT, CA, SNI = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# "retain": the endpoint runs with retained messages switched on; only the
# retain checks run.
MODE = sys.argv[4] if len(sys.argv) > 4 else "all"

# Paho connects to a host name and uses it for SNI and the certificate
# check; the AWS-style name resolves to loopback here, nowhere else.
_real_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, *args, **kwargs):
    if host == SNI:
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_getaddrinfo

RESULTS = {}
SEQ = [0]


def cid(name):
    SEQ[0] += 1
    return f"paho-{name}-{SEQ[0]}"


class Peer:
    """A Paho client whose events land in queues."""

    def __init__(self, name, v5=True, clean=True, receive_max=None, max_packet=None,
                 session_expiry=None, will=None, manual_ack=False, client_id=None):
        self.v5 = v5
        self.id = client_id or cid(name)
        kw = dict(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=self.id,
                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=manual_ack)
        if not v5:
            kw["clean_session"] = clean
        self.c = mqtt.Client(**kw)
        self.c.tls_set(ca_certs=CA)
        self.connack = queue.Queue()
        self.msgs = queue.Queue()
        self.suback = queue.Queue()
        self.disconnects = queue.Queue()
        self.c.on_connect = lambda c, u, flags, rc, props: self.connack.put((flags, rc, props))
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.suback.put(rcs)
        self.c.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.put(rc)
        if will:
            topic, props = will
            self.c.will_set(topic, b"gone:" + self.id.encode(), qos=1, properties=props)
        self.props = None
        if v5:
            self.props = Properties(PacketTypes.CONNECT)
            if receive_max is not None:
                self.props.ReceiveMaximum = receive_max
            if max_packet is not None:
                self.props.MaximumPacketSize = max_packet
            if session_expiry is not None:
                self.props.SessionExpiryInterval = session_expiry
        self.clean = clean

    def start(self):
        kw = dict(keepalive=60)
        if self.v5:
            kw["clean_start"] = self.clean
            kw["properties"] = self.props
        self.c.connect(SNI, PORT, **kw)
        self.c.loop_start()
        flags, rc, props = self.connack.get(timeout=10)
        return flags, rc, props

    def sub(self, topic, qos=1, no_local=False, props=None):
        if self.v5:
            self.c.subscribe(topic, options=SubscribeOptions(qos=qos, noLocal=no_local), properties=props)
        else:
            self.c.subscribe(topic, qos)
        return self.suback.get(timeout=10)

    def got(self, timeout, want=None):
        """Messages received within `timeout` s (sooner once `want` came)."""
        out = []
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0 or (want is not None and len(out) >= want):
                return out
            try:
                out.append(self.msgs.get(timeout=left))
            except queue.Empty:
                return out

    def stop(self, reason=0):
        if self.v5:
            self.c.disconnect(reasoncode=mqtt.ReasonCode(PacketTypes.DISCONNECT, identifier=reason))
        else:
            self.c.disconnect()
        time.sleep(0.05)
        self.c.loop_stop()

    def drop(self):
        """The network goes away: no DISCONNECT."""
        self.c.loop_stop()
        try:
            self.c.socket().close()
        except Exception:
            pass


def codes(rcs):
    return [int(r.value) if hasattr(r, "value") else int(r) for r in rcs]


PUBLISHER = []


def pub(topic, payload, qos=1, props=None):
    """Publishes from one shared 5.0 client and waits for the PUBACK."""
    if not PUBLISHER:
        p = Peer("pub")
        p.start()
        PUBLISHER.append(p)
    info = PUBLISHER[0].c.publish(topic, payload, qos=qos, properties=props)
    info.wait_for_publish(timeout=10)


def check(name, mode="all"):
    def wrap(f):
        if mode != MODE:
            return f
        try:
            RESULTS[name] = f()
        except Exception as e:  # the test asserts on the observation
            RESULTS[name] = f"error: {type(e).__name__}: {e}"
        return f
    return wrap


@check("connack_v5")
def _():
    p = Peer("connack", session_expiry=0xFFFFFFFF)
    flags, rc, props = p.start()
    d = props.json() if props else {}
    p.stop()
    return {k: d.get(k) for k in ["MaximumQoS", "RetainAvailable", "WildcardSubscriptionAvailable",
                                  "SubscriptionIdentifierAvailable", "SharedSubscriptionAvailable",
                                  "TopicAliasMaximum", "SessionExpiryInterval", "MaximumPacketSize"]}


@check("properties_forwarded")
def _():
    s = Peer("props-sub")
    s.start()
    s.sub("zoo/props")
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k", "v"), ("k2", "v2")]
    props.PayloadFormatIndicator = 1
    props.ContentType = "text/plain"
    props.ResponseTopic = "zoo/reply"
    props.CorrelationData = b"\x01\x02"
    props.MessageExpiryInterval = 120
    pub("zoo/props", b"hello", props=props)
    m = s.got(3, want=1)
    s.stop()
    if not m:
        return "nothing delivered"
    d = m[0].properties.json()
    return {k: d.get(k) for k in ["UserProperty", "PayloadFormatIndicator", "ContentType",
                                  "ResponseTopic", "CorrelationData", "MessageExpiryInterval"]}


@check("v311_subscriber_of_v5_publish")
def _():
    s = Peer("props-311", v5=False)
    s.start()
    s.sub("zoo/cross")
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k", "v")]
    pub("zoo/cross", b"to-311", props=props)
    m = s.got(3, want=1)
    s.stop()
    return [x.payload.decode() for x in m]


@check("no_local")
def _():
    s = Peer("nolocal")
    s.start()
    s.sub("zoo/nl", no_local=True)
    s.c.publish("zoo/nl", b"own", qos=1).wait_for_publish(timeout=10)
    own = s.got(1)
    pub("zoo/nl", b"other")
    other = s.got(3, want=1)
    s.stop()
    return {"own": len(own), "other": [x.payload.decode() for x in other]}


@check("receive_maximum")
def _():
    s = Peer("recvmax", receive_max=2, manual_ack=True)
    s.start()
    s.sub("zoo/rm")
    for i in range(5):
        pub("zoo/rm", f"m{i}".encode())
    first = s.got(1.0)
    if first:
        s.c.ack(first[0].mid, 1)
    after_one_ack = s.got(1.0)
    for m in first[1:] + after_one_ack:
        s.c.ack(m.mid, 1)
    rest = s.got(3, want=2)
    s.stop()
    return {"before_ack": len(first), "after_one_ack": len(after_one_ack), "rest": len(rest)}


@check("maximum_packet_size")
def _():
    s = Peer("maxpacket", max_packet=200)
    s.start()
    s.sub("zoo/mps")
    pub("zoo/mps", b"s" * 50)
    pub("zoo/mps", b"L" * 1000)
    pub("zoo/mps", b"t" * 60)
    m = s.got(3, want=2)
    s.stop()
    return [len(x.payload) for x in m]


def watcher(topic):
    w = Peer("watch")
    w.start()
    w.sub(topic)
    return w


@check("will_delay")
def _():
    topic = "zoo/will/delay"
    w = watcher(topic)
    wp = Properties(PacketTypes.WILLMESSAGE)
    wp.WillDelayInterval = 2
    e = Peer("will-delay", session_expiry=30, will=(topic, wp))
    e.start()
    t0 = time.time()
    e.drop()
    early = w.got(1)
    late = w.got(3, want=1)
    w.stop()
    return {"within_1s": len(early), "by_4s": len(late), "after_s": round(time.time() - t0, 1)}


@check("will_delay_cancelled_by_reconnect")
def _():
    topic = "zoo/will/cancel"
    w = watcher(topic)
    wp = Properties(PacketTypes.WILLMESSAGE)
    wp.WillDelayInterval = 3
    e = Peer("will-cancel", session_expiry=30, will=(topic, wp))
    e.start()
    e.drop()
    time.sleep(0.5)
    back = Peer("will-cancel", session_expiry=30, clean=False, client_id=e.id)
    back.start()
    got = w.got(3.5)
    back.stop()
    w.stop()
    return len(got)


@check("disconnect_with_will")
def _():
    out = {}
    for reason in (0x04, 0x00):
        topic = f"zoo/will/disc{reason}"
        w = watcher(topic)
        f = Peer(f"will-disc{reason}", will=(topic, Properties(PacketTypes.WILLMESSAGE)))
        f.start()
        f.stop(reason=reason)
        out[hex(reason)] = len(w.got(2, want=1) if reason == 0x04 else w.got(1))
        w.stop()
    return out


@check("will_v311_on_drop")
def _():
    topic = "zoo/will/v311"
    w = watcher(topic)
    f = Peer("will-311", v5=False, will=(topic, None))
    f.start()
    f.drop()
    got = w.got(3, want=1)
    w.stop()
    return len(got)


@check("topic_alias_refused")
def _():
    p = Peer("alias")
    p.start()
    props = Properties(PacketTypes.PUBLISH)
    props.TopicAlias = 1
    p.c.publish("zoo/alias", b"x", qos=0, properties=props)
    rc = p.disconnects.get(timeout=5)
    p.c.loop_stop()
    return int(rc.value)


@check("shared_subscription_refused")
def _():
    p = Peer("shared")
    p.start()
    rcs = p.sub("$share/group/zoo/shared")
    p.stop()
    return codes(rcs)


@check("subscription_identifier_refused")
def _():
    p = Peer("subid")
    p.start()
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 7
    p.c.subscribe("zoo/subid", options=SubscribeOptions(qos=1), properties=props)
    rc = p.disconnects.get(timeout=5)
    p.c.loop_stop()
    return int(rc.value)


@check("retain_refused_v5")
def _():
    p = Peer("retain")
    p.start()
    p.c.publish("zoo/retain", b"r", qos=0, retain=True)
    rc = p.disconnects.get(timeout=5)
    p.c.loop_stop()
    return int(rc.value)


def persistent(v5):
    topic = f"zoo/persist/{'v5' if v5 else 'v311'}"
    g = Peer("persist", v5=v5, clean=False, session_expiry=60 if v5 else None)
    flags, rc, _ = g.start()
    first_present = flags.session_present
    g.sub(topic)
    g.stop()
    for i in range(3):
        pub(topic, f"q1-{i}".encode(), qos=1)
    pub(topic, b"q0", qos=0)
    back = Peer("persist", v5=v5, clean=False, session_expiry=60 if v5 else None, client_id=g.id)
    flags, rc, _ = back.start()
    got = back.got(3, want=3)
    back.stop()
    fresh = Peer("persist", v5=v5, clean=True, client_id=g.id)
    flags2, _, _ = fresh.start()
    again = fresh.got(0.5)
    fresh.stop()
    return {"first_present": bool(first_present), "present": bool(flags.session_present),
            "messages": sorted(m.payload.decode() for m in got),
            "clean_present": bool(flags2.session_present), "clean_messages": len(again)}


@check("session_expires")
def _():
    g = Peer("expires", clean=False, session_expiry=1)
    g.start()
    g.sub("zoo/expires")
    g.stop()
    time.sleep(1.6)
    back = Peer("expires", clean=False, session_expiry=1, client_id=g.id)
    flags, _, _ = back.start()
    back.stop()
    return bool(flags.session_present)


@check("retained_delivered_on_subscribe", mode="retain")
def _():
    p = Peer("retainer")
    p.start()
    p.c.publish("zoo/retained", b"kept", qos=1, retain=True).wait_for_publish(timeout=10)
    p.stop()
    s = Peer("late")
    flags, rc, props = s.start()
    s.sub("zoo/#")
    m = s.got(3, want=1)
    s.stop()
    return {"retain_available": props.json().get("RetainAvailable"),
            "messages": [(x.topic, x.payload.decode(), bool(x.retain)) for x in m]}


@check("persistent_session_v5")
def _():
    return persistent(True)


@check("persistent_session_v311")
def _():
    return persistent(False)


# Violations Paho will not send: a raw TLS socket.

def raw():
    ctx = ssl.create_default_context(cafile=CA)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    return ctx.wrap_socket(s, server_hostname=SNI)


def varint(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def packet(kind, body):
    return bytes([kind]) + varint(len(body)) + body


def mqtt_str(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def connect5(client_id, props=b""):
    body = mqtt_str("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 60) + varint(len(props)) + props + mqtt_str(client_id)
    return packet(0x10, body)


def connect311(client_id):
    return packet(0x10, mqtt_str("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 60) + mqtt_str(client_id))


def read_packet(s):
    """(type byte, body) or None when the server closed."""
    try:
        h = s.recv(1)
        if not h:
            return None
        n, mult = 0, 1
        while True:
            b = s.recv(1)[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return h[0], body
    except (ConnectionError, ssl.SSLError, socket.timeout, IndexError):
        return None


def closes(s):
    """True when the server closes within 5 s."""
    return read_packet(s) is None


def connack_code(props):
    s = raw()
    s.sendall(connect5(cid("raw"), props))
    p = read_packet(s)
    closed = closes(s)
    return {"connack": p[1][1] if p and p[0] == 0x20 else None, "closed": closed}


@check("connect_duplicate_property")
def _():
    expiry = bytes([0x11]) + struct.pack(">I", 10)
    return connack_code(expiry + expiry)


@check("connect_receive_maximum_0")
def _():
    return connack_code(bytes([0x21]) + struct.pack(">H", 0))


@check("connect_maximum_packet_size_0")
def _():
    return connack_code(bytes([0x27]) + struct.pack(">I", 0))


def after_connect(v5, pkt):
    s = raw()
    s.sendall(connect5(cid("raw")) if v5 else connect311(cid("raw")))
    read_packet(s)
    s.sendall(pkt)
    p = read_packet(s)
    if p is None:
        return {"disconnect": None, "closed": True}
    return {"disconnect": p[1][0] if p[0] == 0xE0 and p[1] else p[0], "closed": closes(s)}


@check("publish_empty_topic_no_alias")
def _():
    return after_connect(True, packet(0x30, mqtt_str("") + varint(0) + b"x"))


@check("subscribe_packet_id_0")
def _():
    return {"v5": after_connect(True, packet(0x82, struct.pack(">H", 0) + varint(0) + mqtt_str("zoo/a") + b"\x01")),
            "v311": after_connect(False, packet(0x82, struct.pack(">H", 0) + mqtt_str("zoo/a") + b"\x01"))}


@check("unsubscribe_packet_id_0")
def _():
    return {"v5": after_connect(True, packet(0xA2, struct.pack(">H", 0) + varint(0) + mqtt_str("zoo/a"))),
            "v311": after_connect(False, packet(0xA2, struct.pack(">H", 0) + mqtt_str("zoo/a")))}


@check("subscribe_no_filter")
def _():
    return {"v5": after_connect(True, packet(0x82, struct.pack(">H", 5) + varint(0))),
            "v311": after_connect(False, packet(0x82, struct.pack(">H", 5)))}


@check("unsubscribe_no_filter")
def _():
    return {"v5": after_connect(True, packet(0xA2, struct.pack(">H", 5) + varint(0))),
            "v311": after_connect(False, packet(0xA2, struct.pack(">H", 5)))}


print(json.dumps(RESULTS))
