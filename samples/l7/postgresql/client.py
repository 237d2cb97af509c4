#!/usr/bin/env python3
"""A small PostgreSQL v3 client (SSLRequest, StartupMessage with trust auth, simple Query,
extended Parse/Bind/Describe/Execute/Sync incl. pipelined batches and errors; an SSLRequest refused,
then, after the server turned ssl on, one accepted and TLS) that drives a fixed workload and records from the client's side every request and the answer it
parsed: the ground truth of postgresql.pcap. One record per Query or per Sync-terminated batch.

usage: client.py HOST PORT USER DB OUT.json
"""
import faulthandler
import json
import socket
import ssl
import struct
import sys
import time

HOST, PORT, USER, DB, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def now_us():
    return time.time_ns() // 1000


def msg(t, body=b''):
    return t.encode() + struct.pack('!I', len(body) + 4) + body


def z(s):
    return s.encode() + b'\0'


def client_class(code):
    cls = {"03", "0A", "0B", "0F", "0L", "0P", "20", "22", "23", "26", "2F", "34", "3D", "3F", "42"}
    return 'client_error' if code in ('40001', '40003', '40P01') or code[:2] in cls else 'server_error'


class Conn:
    def __init__(self, records, encryption):
        self.s = socket.create_connection((HOST, PORT))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local = self.s.getsockname()
        self.records = records
        self.buf = b''
        if encryption == 'ssl-refused':
            self.s.sendall(struct.pack('!II', 8, 80877103))
            self.answer = self.s.recv(1).decode()
            assert self.answer == 'N', self.answer
        elif encryption == 'ssl':
            self.s.sendall(struct.pack('!II', 8, 80877103))
            self.answer = self.s.recv(1).decode()
            assert self.answer == 'S'
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.s = ctx.wrap_socket(self.s)
        params = z('user') + z(USER) + z('database') + z(DB) + b'\0'
        self.s.sendall(struct.pack('!II', 8 + len(params), 196608) + params)
        while True:
            t, _ = self.read()
            if t == 'Z':
                break

    def read(self):
        while len(self.buf) < 5:
            self.buf += self.s.recv(65536)
        t = chr(self.buf[0])
        n = struct.unpack('!I', self.buf[1:5])[0]
        while len(self.buf) < 1 + n:
            self.buf += self.s.recv(65536)
        body = self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return t, body

    def answer_of(self, rec):
        """Reads one answer up to ReadyForQuery into rec."""
        first = None
        error = None
        tag = None
        while True:
            t, body = self.read()
            if first is None:
                first = now_us()
            if t == 'E' and error is None:
                f = {}
                for part in body.split(b'\0'):
                    if part:
                        f[chr(part[0])] = part[1:].decode()
                error = f
            elif t == 'C':
                tag = body.rstrip(b'\0').decode()
            elif t == 'Z':
                break
        rec['first_byte_us'] = first
        rec['end_us'] = now_us()
        if error:
            rec.update(status=client_class(error['C']), code=error['C'], message=error['M'], tag=None)
        else:
            rec.update(status='ok', code=None, message=None, tag=tag)

    def send_request(self, request_type, sql, data):
        rec = {'request_type': request_type, 'resource': sql, 'start_us': now_us()}
        self.s.sendall(data)
        self.records.append(rec)
        return rec

    def query(self, sql):
        rec = self.send_request('simple query', sql, msg('Q', z(sql)))
        self.answer_of(rec)

    def prepare_and_run(self, name, sql, params):
        body = msg('P', z(name) + z(sql) + struct.pack('!H', 0))
        body += self.bind_execute(name, params)
        rec = self.send_request('parse', sql, body)
        self.answer_of(rec)

    @staticmethod
    def bind_execute(name, params, portal=''):
        b = z(portal) + z(name) + struct.pack('!H', 0) + struct.pack('!H', len(params))
        for v in params:
            v = str(v).encode()
            b += struct.pack('!i', len(v)) + v
        b += struct.pack('!H', 0)
        return msg('B', b) + msg('D', b'P' + z(portal)) + msg('E', z(portal) + struct.pack('!i', 0)) + msg('S')

    def execute(self, name, sql, params):
        rec = self.send_request('execute', sql, self.bind_execute(name, params))
        self.answer_of(rec)

    def pipelined(self, name, sql, params_list):
        recs = [self.send_request('execute', sql, self.bind_execute(name, p)) for p in params_list]
        for rec in recs:
            self.answer_of(rec)

    def terminate(self):
        self.s.sendall(msg('X'))
        try:
            while self.s.recv(65536):
                pass
        except (ssl.SSLError, OSError):
            pass
        self.s.close()


def main():
    faulthandler.dump_traceback_later(30, exit=True)  # a hung exchange fails the run instead of hanging it
    conns = []
    recs = []
    c = Conn(recs, 'ssl-refused')
    c.query('CREATE TABLE items (id int PRIMARY KEY, name text)')
    c.query("INSERT INTO items VALUES (1, 'apple'), (2, 'pear')")
    c.prepare_and_run('by_id', 'SELECT name FROM items WHERE id = $1', [1])
    c.execute('by_id', 'SELECT name FROM items WHERE id = $1', [2])
    c.pipelined('by_id', 'SELECT name FROM items WHERE id = $1', [[1], [2], [3]])
    c.prepare_and_run('ins', 'INSERT INTO items VALUES ($1, $2)', [1, 'dup'])  # 23505 unique_violation
    c.prepare_and_run('', 'SELEC name FROM items', [])  # 42601 syntax error in Parse
    c.query("/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */ UPDATE items SET name = 'plum' WHERE id = 2")
    c.query('SELECT pg_sleep(0.01)')
    c.terminate()
    conns.append({'client': list(c.local), 'encryption_request': 'SSLRequest', 'server_answer': 'N', 'records': recs})
    input()  # generate.sh turns ssl on (reload) and says go

    # Over TLS: the server accepts the SSLRequest ('S'); nothing after it is readable on the wire.
    recs2 = []
    c2 = Conn(recs2, 'ssl')
    c2.query('SELECT count(*) FROM items')
    c2.terminate()
    conns.append({'client': list(c2.local), 'encryption_request': 'SSLRequest', 'server_answer': 'S', 'records': recs2})
    json.dump({'server': [HOST, PORT], 'connections': conns}, open(OUT, 'w'), indent=1)


main()
