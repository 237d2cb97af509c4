#!/usr/bin/env python3
"""Drives nats-server with a known workload over three connections and writes the rows Flowscope must
report, from the client's side: every operation sent or received, what answered it."""
import json, socket, sys, time

HOST, PORT, AUTH_PORT, OUT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = []

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection((HOST, port))
        self.port = self.s.getsockname()[1]
        self.buf = b''
        self.ops = []   # client operations waiting for +OK/-ERR (verbose)
        self.verbose = False

    def read_op(self, timeout=3.0):
        self.s.settimeout(timeout)
        while b'\r\n' not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, rest = self.buf.split(b'\r\n', 1)
        parts = line.decode().split(' ')
        op = parts[0].upper()
        payload = None
        if op in ('MSG', 'HMSG'):
            total = int(parts[-1])
            while len(rest) < total + 2:
                rest += self.s.recv(65536)
            payload, rest = rest[:total], rest[total + 2:]
        self.buf = rest
        return op, parts, payload, line.decode()

    def send(self, raw):
        self.s.sendall(raw)

    def row(self, **kw):
        kw['client_port'] = self.port
        rows.append(kw)

    def client_op(self, typ, raw, subject=None, length=None):
        self.send(raw)
        r = {'type': typ, 'subject': subject, 'length': length, 'status': 'ok', 'result': None}
        if self.verbose:
            self.ops.append(r)
        self.row_ref(r)
        return r

    def row_ref(self, r):
        r['client_port'] = self.port
        rows.append(r)

    def expect(self, want):
        """Reads server operations until one of type `want`; records deliveries, answers, pings."""
        while True:
            got = self.read_op()
            if got is None:
                return None
            op, parts, payload, line = got
            if op in ('MSG', 'HMSG'):
                hdr = int(parts[-2]) if op == 'HMSG' else 0
                self.row(type=op, subject=parts[1], length=int(parts[-1]) - hdr, status='ok', result=None)
            elif op == '+OK':
                # nats-server 2.9 follows a pedantic -ERR with +OK (and still delivers): the -ERR answered.
                if self.ops:
                    self.ops.pop(0)['result'] = '+OK'
            elif op == '-ERR':
                text = line[5:].strip().strip("'")
                st = 'server_error' if 'Slow Consumer' in text or 'Stale' in text else 'client_error'
                if self.ops:
                    r = self.ops.pop(0)
                    r.update(result='-ERR ' + text, status=st)
                else:
                    self.row(type='ERR', subject=None, length=None, status=st, result='-ERR ' + text)
            elif op == 'PING':
                # The server pings: answer, one row (client → server) answered by our PONG.
                self.send(b'PONG\r\n')
                self.row(type='PING', subject=None, length=None, status='ok', result=None, by='server')
            elif op == 'INFO':
                self.row(type='INFO', subject=None, length=len(line) + 2, status='ok', result=None)
            if op == want:
                return got

    def ping(self):
        self.send(b'PING\r\n')
        self.row(type='PING', subject=None, length=None, status='ok', result=None, by='client')
        self.expect('PONG')

def connect(c, verbose, pedantic=False, extra=''):
    c.expect('INFO')
    c.verbose = verbose
    body = '{"verbose":%s,"pedantic":%s,"headers":true,"protocol":1,"lang":"python","version":"1.0"%s}' % (
        str(verbose).lower(), str(pedantic).lower(), extra)
    raw = ('CONNECT ' + body + '\r\n').encode()
    r = c.client_op('CONNECT', raw, length=len(raw))
    return r

def pub(c, subject, data, reply=None):
    raw = ('PUB %s %s%d\r\n' % (subject, reply + ' ' if reply else '', len(data))).encode() + data + b'\r\n'
    return c.client_op('PUB', raw, subject, len(data))

def hpub(c, subject, headers, data):
    h = b'NATS/1.0\r\n' + b''.join(('%s: %s\r\n' % kv).encode() for kv in headers) + b'\r\n'
    raw = ('HPUB %s %d %d\r\n' % (subject, len(h), len(h) + len(data))).encode() + h + data + b'\r\n'
    return c.client_op('HPUB', raw, subject, len(data))

TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
# 1: plain connection: subscriptions, publishes, headers with trace context, request/reply, server PING.
c = Conn(PORT)
connect(c, False)
c.ping()
c.client_op('SUB', b'SUB orders.* 1\r\n', 'orders.*')
c.client_op('SUB', b'SUB svc.echo 2\r\n', 'svc.echo')
c.client_op('SUB', b'SUB _INBOX.q7Yx2.* 3\r\n', '_INBOX.q7Yx2.*')
c.ping()
pub(c, 'orders.new', b'hello')
c.expect('MSG')
hpub(c, 'orders.traced', [('traceparent', '00-%s-00f067aa0ba902b7-01' % TRACE), ('X-Request-ID', 'req-42')], b'{"id":7}')
c.expect('HMSG')
pub(c, 'svc.echo', b'ping?', reply='_INBOX.q7Yx2.1')
got = c.expect('MSG')
pub(c, got[1][3], b'pong!')          # answer the request on its reply subject
c.expect('MSG')
c.client_op('UNSUB', b'UNSUB 1\r\n')
pub(c, 'orders.gone', b'nobody listens')
big = b'x' * 4000                    # spans segments (loopback MTU 1500)
pub(c, 'svc.big', big)
c.ping()
c.expect('PING')                     # the server's own PING (ping_interval 1s)
c.ping()
c.s.close()

# 2: verbose and pedantic: every operation answered by +OK or -ERR.
c = Conn(PORT)
connect(c, True, True)
c.expect('+OK')
c.client_op('SUB', b'SUB inventory.> 1\r\n', 'inventory.>')
c.expect('+OK')
pub(c, 'inventory.count', b'17')
c.expect('+OK')
c.expect('MSG')
pub(c, 'inventory.*', b'wild')       # pedantic: wildcards may not be published to
c.expect('-ERR')
c.expect('+OK')
c.expect('MSG')
c.ping()
c.send(b'FOO BAR\r\n')               # not an operation: the server says so and closes
c.expect('-ERR')
c.s.close()

# 3: a server requiring a password, given the wrong one.
c = Conn(AUTH_PORT)
connect(c, False, False, ',"user":"app","pass":"wrong"')
c.expect('-ERR')
c.s.close()

json.dump({'rows': rows}, open(OUT, 'w'), indent=1)
print(len(rows), 'rows')
