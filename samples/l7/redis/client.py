#!/usr/bin/env python3
"""RESP3/RESP2 workload against redis-server at 127.0.0.1:PORT; writes the truth (what the client sent and
the replies it parsed itself) as JSON to stdout. Used by generate.sh."""
import json, socket, sys, time

PORT = int(sys.argv[1])
NAMES = {b'+': 'simple_string', b'-': 'error', b':': 'integer', b'$': 'bulk_string', b'*': 'array', b'_': 'null',
         b'#': 'boolean', b',': 'double', b'(': 'big_number', b'!': 'bulk_error', b'=': 'verbatim_string',
         b'%': 'map', b'~': 'set', b'>': 'push'}


class Conn:
    def __init__(self, name):
        self.name = name
        self.s = socket.create_connection(('127.0.0.1', PORT))
        self.f = self.s.makefile('rb')

    def line(self):
        l = self.f.readline()
        assert l.endswith(b'\r\n'), l
        return l[:-2]

    def read(self):
        """One value: (type name, python value); attributes are read and skipped."""
        l = self.line()
        t, rest = l[:1], l[1:]
        if t == b'|':
            n = int(rest)
            for _ in range(2 * n):
                self.read()
            return self.read()
        if t in (b'+', b'-', b':', b',', b'(', b'#', b'_'):
            return NAMES[t], rest.decode()
        if t in (b'$', b'!', b'='):
            n = int(rest)
            if n < 0:
                return NAMES[t], None
            data = self.f.read(n + 2)[:-2]
            return NAMES[t], data.decode()
        if t in (b'*', b'~', b'>', b'%'):
            n = int(rest)
            if n < 0:
                return NAMES[t], None
            k = 2 * n if t == b'%' else n
            return NAMES[t], [self.read()[1] for _ in range(k)]
        raise ValueError(l)

    def send(self, *args):
        out = b'*%d\r\n' % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b'$%d\r\n%s\r\n' % (len(a), a)
        return out


commands = []
deliveries = []


def resource(args):
    args = list(args)
    if args[0].upper() == 'AUTH' and len(args) >= 2:
        args[-1] = '?'
    return ' '.join(a for a in args if a != '')


def call(c, *args, pipelined=False):
    c.s.sendall(c.send(*args))
    return expect(c, args, pipelined)


def expect(c, args, pipelined=False):
    t, v = c.read()
    err = None
    if t == 'error':
        err = '-' + v
    elif t == 'bulk_error':
        err = '!' + v
    commands.append({'conn': c.name, 'command': args[0].upper(), 'resource': resource(args), 'reply_type': t,
                     'error': err, 'pipelined': pipelined, 'reply': v})
    return t, v


def pipeline(c, *cmds):
    c.s.sendall(b''.join(c.send(*a) for a in cmds))
    for a in cmds:
        expect(c, a, True)


a = Conn('a')
call(a, 'HELLO', '3')
call(a, 'SET', 'k', 'v')
call(a, 'GET', 'k')
call(a, 'HSET', 'h', 'f1', 'a', 'f2', 'b')
call(a, 'HGETALL', 'h')
call(a, 'SADD', 's', 'x', 'y')
call(a, 'SMEMBERS', 's')
call(a, 'GET', 'missing')
call(a, 'ZADD', 'z', '1.5', 'm')
call(a, 'ZSCORE', 'z', 'm')
call(a, 'NOSUCHCMD', 'x')
call(a, 'LPUSH', 'k', 'x')
call(a, 'DEBUG', 'PROTOCOL', 'verbatim')
call(a, 'DEBUG', 'PROTOCOL', 'bignum')
call(a, 'DEBUG', 'PROTOCOL', 'true')
call(a, 'DEBUG', 'PROTOCOL', 'attrib')
call(a, 'SET', 'empty', '')
call(a, 'GET', 'empty')
pipeline(a, ('SET', 'p1', '1'), ('INCR', 'p1'), ('GET', 'p1'), ('NOPE',), ('DEL', 'p1'))
call(a, 'SET', 'big', 'x' * 5000)
call(a, 'GET', 'big')

d = Conn('d')
call(d, 'AUTH', 'wrongpass')
call(d, 'PING')

b = Conn('b')
c = Conn('c')
# RESP3 subscriber: confirmations and deliveries are pushes.
a.s.sendall(a.send('SUBSCRIBE', 'ch1', 'ch2'))
t, v = a.read()
commands.append({'conn': 'a', 'command': 'SUBSCRIBE', 'resource': 'SUBSCRIBE ch1 ch2', 'reply_type': t, 'error': None, 'pipelined': False, 'reply': v})
assert v[0] == 'subscribe'
t, v = a.read()
assert v[0] == 'subscribe'
# RESP2 subscriber: confirmations and deliveries are arrays.
c.s.sendall(c.send('SUBSCRIBE', 'news'))
t, v = c.read()
commands.append({'conn': 'c', 'command': 'SUBSCRIBE', 'resource': 'SUBSCRIBE news', 'reply_type': t, 'error': None, 'pipelined': False, 'reply': v})
time.sleep(0.05)
call(b, 'PUBLISH', 'ch1', 'hello')
call(b, 'PUBLISH', 'ch2', 'world')
call(b, 'PUBLISH', 'news', 'flash')
for conn in (a, a, c):
    t, v = conn.read()
    deliveries.append({'conn': conn.name, 'kind': v[0], 'channel': v[1], 'payload': v[2], 'type': t})
# PING on a RESP2 subscribed connection: a ["pong", ""] array, a reply, not a delivery.
call(c, 'PING')
c.s.sendall(c.send('UNSUBSCRIBE', 'news'))
t, v = c.read()
commands.append({'conn': 'c', 'command': 'UNSUBSCRIBE', 'resource': 'UNSUBSCRIBE news', 'reply_type': t, 'error': None, 'pipelined': False, 'reply': v})
# Unsubscribe from all: one confirmation per channel, the first is the reply.
a.s.sendall(a.send('UNSUBSCRIBE'))
t, v = a.read()
commands.append({'conn': 'a', 'command': 'UNSUBSCRIBE', 'resource': 'UNSUBSCRIBE', 'reply_type': t, 'error': None, 'pipelined': False, 'reply': v})
while int(v[2]) != 0:
    t, v = a.read()
call(a, 'PING')
for conn in (a, b, c, d):
    call(conn, 'QUIT')
    conn.s.close()
json.dump({'about': 'Written by samples/l7/redis/client.py from its own side: the commands it sent (in order per connection, '
           'AUTH password masked as Flowscope shows it) and the replies it parsed; deliveries are pub/sub messages received.',
           'port': PORT, 'commands': commands, 'deliveries': deliveries}, sys.stdout, indent=1)
