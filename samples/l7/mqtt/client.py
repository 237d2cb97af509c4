#!/usr/bin/env python3
"""MQTT 3.1.1 and 5 workload against a mosquitto broker at 127.0.0.1:PORT (user alice / secret). Speaks
the protocol itself so that it knows every packet it sent and received; writes that as the truth (JSON,
stdout). Used by generate.sh."""
import json, socket, struct, sys, time

PORT = int(sys.argv[1])
NAMES = ['', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK',
         'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH']
VERSION = {3: '3.1', 4: '3.1.1', 5: '5.0'}
exchanges = []  # what each client saw, one entry per request (or one-way packet)


def varint(n):
    out = b''
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def s(x):
    x = x.encode()
    return struct.pack('>H', len(x)) + x


class Client:
    def __init__(self, cid, level, user='alice', password='secret'):
        self.cid, self.level = cid, level
        self.sock = socket.create_connection(('127.0.0.1', PORT))
        self.sock.settimeout(5)
        self.buf = b''
        self.next_id = 1
        self.port = self.sock.getsockname()[1]
        props = b'\x00' if level == 5 else b''
        flags = 0x02 | (0x80 if user else 0) | (0x40 if password else 0)
        name = 'MQIsdp' if level == 3 else 'MQTT'
        body = s(name) + bytes([level, flags]) + struct.pack('>H', 60) + props + s(cid)
        if user:
            body += s(user)
        if password:
            body += s(password)
        self.send(1, 0, body)
        t, f, b = self.recv()
        assert t == 2
        code = b[1]
        self.log('CONNECT', None, 'CONNACK', code, len(body), len(b))
        self.accepted = code == 0

    def log(self, req, topic, resp, code, req_len, resp_len, one_way=False, sender='client'):
        exchanges.append({'client_id': self.cid, 'client_port': self.port, 'version': VERSION[self.level],
                          'request_type': req, 'topic': topic, 'response_type': resp, 'code': code,
                          'request_length': req_len, 'response_length': resp_len, 'one_way': one_way,
                          'sender': sender, 'time_us': int(time.time() * 1e6)})

    def send(self, t, flags, body):
        self.sock.sendall(bytes([t << 4 | flags]) + varint(len(body)) + body)

    def recv(self):
        while True:
            if len(self.buf) >= 2:
                n, mul, k = 0, 1, 1
                while True:
                    c = self.buf[k]
                    n += (c & 0x7f) * mul
                    mul *= 128
                    k += 1
                    if not c & 0x80:
                        break
                if len(self.buf) >= k + n:
                    b0, body = self.buf[0], self.buf[k:k + n]
                    self.buf = self.buf[k + n:]
                    return b0 >> 4, b0 & 15, body
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def pid(self):
        i = self.next_id
        self.next_id += 1
        return struct.pack('>H', i)

    def props(self):
        return b'\x00' if self.level == 5 else b''

    def publish(self, topic, payload, qos):
        pid = self.pid() if qos else b''
        body = s(topic) + pid + self.props() + payload
        self.send(3, qos << 1, body)
        if qos == 0:
            self.log('PUBLISH', topic, None, None, len(body), None, one_way=True)
            return
        t, f, b = self.recv()
        code = b[2] if len(b) > 2 else None
        if qos == 1:
            assert t == 4, t
            self.log('PUBLISH', topic, 'PUBACK', code, len(body), len(b))
            return
        assert t == 5, t
        self.log('PUBLISH', topic, 'PUBREC', code, len(body), len(b))
        rel = pid + (b'' if self.level < 5 else b'')
        self.send(6, 2, rel)
        t, f, b = self.recv()
        assert t == 7
        self.log('PUBREL', topic, 'PUBCOMP', b[2] if len(b) > 2 else None, len(rel), len(b))

    def subscribe(self, topics):
        body = self.pid() + self.props() + b''.join(s(t) + bytes([q]) for t, q in topics)
        self.send(8, 2, body)
        t, f, b = self.recv()
        assert t == 9
        codes = b[2 + (1 if self.level == 5 else 0):]
        fail = next((c for c in codes if c >= 0x80), None)
        self.log('SUBSCRIBE', ','.join(t for t, _ in topics), 'SUBACK', fail, len(body), len(b))

    def unsubscribe(self, topics):
        body = self.pid() + self.props() + b''.join(s(t) for t in topics)
        self.send(10, 2, body)
        t, f, b = self.recv()
        assert t == 11
        self.log('UNSUBSCRIBE', ','.join(topics), 'UNSUBACK', None, len(body), len(b))

    def ping(self):
        self.send(12, 0, b'')
        t, f, b = self.recv()
        assert t == 13
        self.log('PINGREQ', None, 'PINGRESP', None, 0, 0)

    def deliveries(self, n):
        """Receives n PUBLISHes from the broker, acknowledging them as the QoS asks (the broker may send the
        next PUBLISH before its PUBREL)."""
        got, rel_pending, topics = 0, 0, {}
        while got < n or rel_pending:
            t, f, b = self.recv()
            if t == 6:
                self.send(7, 0, b[:2])
                self.log('PUBREL', topics.pop(b[:2]), 'PUBCOMP', None, len(b), 2, sender='broker')
                rel_pending -= 1
                continue
            assert t == 3, t
            got += 1
            qos = (f >> 1) & 3
            tl = struct.unpack('>H', b[:2])[0]
            topic = b[2:2 + tl].decode()
            if qos == 0:
                self.log('PUBLISH', topic, None, None, len(b), None, one_way=True, sender='broker')
                continue
            pid = b[2 + tl:4 + tl]
            if qos == 1:
                self.send(4, 0, pid)
                self.log('PUBLISH', topic, 'PUBACK', None, len(b), 2, sender='broker')
            else:
                self.send(5, 0, pid)
                self.log('PUBLISH', topic, 'PUBREC', None, len(b), 2, sender='broker')
                topics[pid] = topic
                rel_pending += 1

    def disconnect(self):
        body = b'\x00' if self.level == 5 else b''
        self.send(14, 0, body)
        self.log('DISCONNECT', None, None, 0 if self.level == 5 else None, len(body), None, one_way=True)
        self.sock.close()


# A refused CONNECT (bad password), on 3.1.1 and on 5: the broker answers and closes.
for level, cid in ((4, 'bad-311'), (5, 'bad-5')):
    c = Client(cid, level, password='wrong')
    assert not c.accepted
    c.sock.close()

sub = Client('sub-311', 4)
sub.subscribe([('sensors/temp', 2), ('sensors/hum', 1)])
sub5 = Client('sub-5', 5)
sub5.subscribe([('alerts/#', 1)])
sub5.subscribe([('$SYS/forbidden/#', 0)])  # mosquitto refuses nothing here; kept as a second SUBSCRIBE

pub = Client('pub-311', 4)
pub.publish('sensors/temp', b'21.5', 0)
pub.publish('sensors/temp', b'21.6', 1)
pub.publish('sensors/temp', b'21.7', 2)
pub.publish('sensors/hum', b'40' * 1000, 1)  # 2000-byte payload
pub.ping()
pub.disconnect()

pub5 = Client('pub-5', 5)
pub5.publish('alerts/fire', b'now', 0)
pub5.publish('alerts/fire', b'again', 1)
pub5.publish('alerts/water', b'leak', 2)
pub5.ping()
pub5.disconnect()

# Deliveries: sub-311 gets temp ×3 (QoS 0, 1, 2 capped by its subscription QoS 2) and hum ×1; sub-5 gets 3.
sub.deliveries(4)
sub5.deliveries(3)
sub.unsubscribe(['sensors/temp', 'sensors/hum'])
sub.ping()
sub.disconnect()
sub5.unsubscribe(['alerts/#'])
sub5.disconnect()

old = Client('old-31', 3)
old.publish('legacy/x', b'1', 1)
old.disconnect()

json.dump({'about': 'Written by samples/l7/mqtt/client.py from the clients\' side: every request (or one-way packet) '
           'each client sent or received, the response it got or gave, codes, body lengths (remaining length).',
           'port': PORT, 'exchanges': exchanges}, sys.stdout, indent=1)
