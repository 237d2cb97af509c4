#!/usr/bin/env python3
"""A minimal AMQP 0-9-1 client (no library) driving RabbitMQ with a known workload: declares, bindings,
publishes with trace headers, a consumer, Basic.Get hit and miss, a passive declare of a missing queue
(404), an exchange redeclared with another type (406), an unroutable mandatory publish (Basic.Return
312), a connection to a missing vhost (530). Writes the rows Flowscope must report, as the client saw them."""
import json, socket, struct, sys

HOST, PORT, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []

def sstr(s): b = s.encode(); return bytes([len(b)]) + b
def lstr(b): return struct.pack('>I', len(b)) + b
def table(d): return lstr(b''.join(sstr(k) + b'S' + lstr(v.encode()) for k, v in d.items()))
def method(ch, cls, mid, args=b''):
    p = struct.pack('>HH', cls, mid) + args
    return struct.pack('>BHI', 1, ch, len(p)) + p + b'\xce'

NAMES = {(10, 10): 'Connection.Start', (10, 11): 'Connection.StartOk', (10, 30): 'Connection.Tune', (10, 31): 'Connection.TuneOk',
         (10, 40): 'Connection.Open', (10, 41): 'Connection.OpenOk', (10, 50): 'Connection.Close', (10, 51): 'Connection.CloseOk',
         (20, 10): 'Channel.Open', (20, 11): 'Channel.OpenOk', (20, 40): 'Channel.Close', (20, 41): 'Channel.CloseOk',
         (40, 10): 'Exchange.Declare', (40, 11): 'Exchange.DeclareOk', (50, 10): 'Queue.Declare', (50, 11): 'Queue.DeclareOk',
         (50, 20): 'Queue.Bind', (50, 21): 'Queue.BindOk', (60, 20): 'Basic.Consume', (60, 21): 'Basic.ConsumeOk',
         (60, 40): 'Basic.Publish', (60, 50): 'Basic.Return', (60, 60): 'Basic.Deliver', (60, 70): 'Basic.Get',
         (60, 71): 'Basic.GetOk', (60, 72): 'Basic.GetEmpty', (60, 80): 'Basic.Ack', (85, 10): 'Confirm.Select', (85, 11): 'Confirm.SelectOk'}

class Conn:
    def __init__(self):
        self.s = socket.create_connection((HOST, PORT))
        self.port = self.s.getsockname()[1]
        self.buf = b''

    def read_exact(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c: raise RuntimeError('closed')
            self.buf += c
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        t, ch, size = struct.unpack('>BHI', self.read_exact(7))
        p = self.read_exact(size)
        assert self.read_exact(1) == b'\xce'
        return t, ch, p

    def method_in(self):
        """Next method frame (content frames after it are read by the caller)."""
        while True:
            t, ch, p = self.frame()
            if t == 1:
                cls, mid = struct.unpack('>HH', p[:4])
                return ch, cls, mid, p[4:]

    def row(self, typ, resource=None, status='ok', code=None, length=None, trace=None):
        r = {'client_port': self.port, 'type': typ, 'resource': resource, 'status': status, 'code': code, 'length': length, 'trace_id': trace}
        rows.append(r)
        return r

    def call(self, ch, cls, mid, args, resource=None):
        """A synchronous request; returns the answer (method) and records the row."""
        self.s.sendall(method(ch, cls, mid, args))
        r = self.row(NAMES[(cls, mid)], resource)
        ach, acls, amid, aargs = self.method_in()
        if (acls, amid) in ((20, 40), (10, 50)):
            code = struct.unpack('>H', aargs[:2])[0]
            r.update(status='server_error' if code in (320, 506, 541) else 'client_error', code=code)
            self.s.sendall(method(ach, acls, amid + 1))   # Close-Ok (not a row of its own)
        return acls, amid, aargs

def handshake(c, vhost='/'):
    c.s.sendall(b'AMQP\x00\x00\x09\x01')
    c.method_in()                                            # Connection.Start
    c.s.sendall(method(0, 10, 11, table({'product': 'flowscope-gen'}) + sstr('PLAIN') + lstr(b'\x00guest\x00guest') + sstr('en_US')))
    c.row('Connection.Start')
    _, _, _, tune = c.method_in()                            # Connection.Tune
    chmax, fmax, _hb = struct.unpack('>HIH', tune[:8])
    c.s.sendall(method(0, 10, 31, struct.pack('>HIH', chmax, fmax, 0)))
    c.row('Connection.Tune')
    return c.call(0, 10, 40, sstr(vhost) + sstr('') + b'\x00')

def publish(c, ch, exchange, rk, body, headers=None, mandatory=False):
    c.s.sendall(method(ch, 60, 40, struct.pack('>H', 0) + sstr(exchange) + sstr(rk) + bytes([1 if mandatory else 0])))
    props = struct.pack('>H', 0x2000) + table(headers) if headers else struct.pack('>H', 0)
    hp = struct.pack('>HHQ', 60, 0, len(body)) + props
    c.s.sendall(struct.pack('>BHI', 2, ch, len(hp)) + hp + b'\xce')
    # The body in frames of at most 2000 bytes (frame_max is larger: this makes several body frames).
    for k in range(0, len(body), 2000):
        part = body[k:k + 2000]
        c.s.sendall(struct.pack('>BHI', 3, ch, len(part)) + part + b'\xce')
    trace = headers['traceparent'].split('-')[1] if headers and 'traceparent' in headers else None
    return c.row('Basic.Publish', f'{exchange}.{rk}', length=len(body), trace=trace)

def content(c):
    """Reads the content header and body frames after a method; returns the body."""
    _, _, hp = c.frame()
    size = struct.unpack('>Q', hp[4:12])[0]
    body = b''
    while len(body) < size:
        _, _, p = c.frame()
        body += p
    return body

TRACE = '0af7651916cd43dd8448eb211c80319c'
c = Conn()
handshake(c)
c.call(1, 20, 10, sstr(''))                                              # Channel.Open
c.call(1, 40, 10, struct.pack('>H', 0) + sstr('orders') + sstr('direct') + b'\x00' + table({}), 'orders.')
c.call(1, 50, 10, struct.pack('>H', 0) + sstr('orders.q') + b'\x00' + table({}), 'orders.q')
c.call(1, 50, 20, struct.pack('>H', 0) + sstr('orders.q') + sstr('orders') + sstr('new') + b'\x00' + table({}), 'orders.new')
publish(c, 1, 'orders', 'new', b'{"id":1}', {'traceparent': f'00-{TRACE}-b7ad6b7169203331-01', 'x-request-id': 'amqp-req-1'})
publish(c, 1, 'orders', 'new', b'B' * 5000)                               # body in three frames, over several segments
acls, amid, _ = c.call(1, 60, 70, struct.pack('>H', 0) + sstr('orders.q') + b'\x01', 'orders.q')   # Basic.Get, no-ack
assert amid == 71
gb = content(c)
rows[-1]['answer'] = 'Basic.GetOk'
c.call(1, 60, 20, struct.pack('>H', 0) + sstr('orders.q') + sstr('ctag-1') + b'\x00' + table({}), 'orders.q')  # Basic.Consume
ch, cls, mid, args = c.method_in()                                        # Basic.Deliver
assert (cls, mid) == (60, 60)
tag = struct.unpack('>Q', args[1 + args[0]:9 + args[0]])[0]
body = content(c)
c.row('Basic.Deliver', 'orders.new', length=len(body))
c.s.sendall(method(1, 60, 80, struct.pack('>Q', tag) + b'\x00'))
c.row('Basic.Ack')
acls, amid, _ = c.call(1, 60, 70, struct.pack('>H', 0) + sstr('orders.q') + b'\x01', 'orders.q')   # empty now
assert amid == 72
rows[-1]['answer'] = 'Basic.GetEmpty'
c.call(1, 50, 10, struct.pack('>H', 0) + sstr('missing.q') + b'\x01' + table({}), 'missing.q')    # passive: 404
c.call(2, 20, 10, sstr(''))
c.call(2, 40, 10, struct.pack('>H', 0) + sstr('orders') + sstr('topic') + b'\x00' + table({}), 'orders.')  # 406
c.call(3, 20, 10, sstr(''))
publish(c, 3, 'orders', 'nowhere', b'lost', mandatory=True)
ch, cls, mid, args = c.method_in()                                        # Basic.Return 312 NO_ROUTE
assert (cls, mid) == (60, 50)
content(c)
c.row('Basic.Return', 'orders.nowhere', status='client_error', code=struct.unpack('>H', args[:2])[0], length=4)
c.call(3, 20, 40, struct.pack('>H', 200) + sstr('bye') + struct.pack('>HH', 0, 0))            # Channel.Close normal
c.call(0, 10, 50, struct.pack('>H', 200) + sstr('bye') + struct.pack('>HH', 0, 0))            # Connection.Close
c.s.close()

c = Conn()
handshake(c, '/missing')                                                  # Connection.Close 530
c.s.close()

json.dump({'rows': rows}, open(OUT, 'w'), indent=1)
print(len(rows), 'rows')
