#!/usr/bin/env python3
"""A small MySQL protocol client (handshake with mysql_native_password, COM_QUERY, COM_STMT_PREPARE /
EXECUTE / CLOSE, COM_INIT_DB, COM_PING, COM_QUIT) that drives a fixed workload and records, from the
client's side, every command it sent and the reply it parsed: the ground truth of mysql.pcap.

usage: client.py HOST PORT USER PASSWORD OUT.json
"""
import hashlib
import json
import socket
import struct
import sys
import time

HOST, PORT, USER, PASSWORD, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000

COMMANDS = {1: 'COM_QUIT', 2: 'COM_INIT_DB', 3: 'COM_QUERY', 14: 'COM_PING', 22: 'COM_STMT_PREPARE',
            23: 'COM_STMT_EXECUTE', 25: 'COM_STMT_CLOSE'}


def now_us():
    return time.time_ns() // 1000


class Conn:
    def __init__(self, records):
        self.s = socket.create_connection((HOST, PORT))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local = self.s.getsockname()
        self.records = records
        self.buf = b''

    def read_packet(self):
        while len(self.buf) < 4:
            self.buf += self.s.recv(65536)
        n = self.buf[0] | self.buf[1] << 8 | self.buf[2] << 16
        while len(self.buf) < 4 + n:
            self.buf += self.s.recv(65536)
        seq = self.buf[3]
        p = self.buf[4:4 + n]
        self.buf = self.buf[4 + n:]
        return seq, p

    def send(self, seq, payload):
        self.s.sendall(struct.pack('<I', len(payload))[:3] + bytes([seq]) + payload)

    def login(self, db):
        _, g = self.read_packet()
        assert g[0] == 10, g
        e = g.index(b'\0', 1)
        version = g[1:e].decode()
        p = e + 1 + 4
        salt = g[p:p + 8]
        p += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
        salt += g[p:p + 12]
        h1 = hashlib.sha1(PASSWORD.encode()).digest()
        h2 = hashlib.sha1(hashlib.sha1(h1).digest()).digest()
        token = bytes(a ^ b for a, b in zip(h1, hashlib.sha1(salt + hashlib.sha1(h1).digest()).digest()))
        del h2
        caps = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
                | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | (CLIENT_CONNECT_WITH_DB if db else 0))
        body = struct.pack('<IIB', caps, 1 << 24, 33) + b'\0' * 23 + USER.encode() + b'\0'
        body += bytes([len(token)]) + token
        if db:
            body += db.encode() + b'\0'
        body += b'mysql_native_password\0'
        start = now_us()
        self.send(1, body)
        seq, r = self.read_packet()
        first = now_us()
        rec = {'command': 'Login', 'resource': f'Login username: {USER} db: {db}' if db else f'Login username: {USER}',
               'start_us': start, 'first_byte_us': first}
        self.reply_fields(rec, r)
        rec['server_version'] = version
        self.records.append(rec)
        return rec

    def reply_fields(self, rec, r):
        if r[0] == 0xff:
            code = struct.unpack('<H', r[1:3])[0]
            msg = r[9:].decode() if r[3:4] == b'#' else r[3:].decode()
            rec.update(reply='ERR', code=code, message=msg,
                       status='client_error' if 2000 <= code <= 2999 else 'server_error')
        else:
            rec.update(reply='OK' if r[0] == 0 else 'RESULT', code=None, message=None, status='ok')

    def read_result(self, rec, r):
        """After the first packet of a COM_QUERY / EXECUTE reply: read the rest, count rows."""
        if r[0] in (0, 0xff):
            return
        ncols = r[0]
        for _ in range(ncols):
            self.read_packet()
        _, eof = self.read_packet()
        assert eof[0] == 0xfe, eof
        rows = 0
        while True:
            _, p = self.read_packet()
            if p[0] == 0xfe and len(p) < 9:
                break
            if p[0] == 0xff:
                self.reply_fields(rec, p)
                break
            rows += 1
        rec['rows'] = rows

    def command(self, cmd, payload, expect_reply=True):
        start = now_us()
        self.send(0, bytes([cmd]) + payload)
        rec = {'command': COMMANDS[cmd], 'start_us': start}
        if not expect_reply:
            rec.update(reply=None, status='ok', code=None, message=None)
            self.records.append(rec)
            return rec, None
        seq, r = self.read_packet()
        rec['first_byte_us'] = now_us()
        self.reply_fields(rec, r)
        self.records.append(rec)
        return rec, r

    def query(self, sql):
        rec, r = self.command(3, sql.encode())
        rec['resource'] = sql
        self.read_result(rec, r)
        return rec

    def prepare(self, sql):
        rec, r = self.command(22, sql.encode())
        rec['resource'] = sql
        if r[0] != 0:
            return rec, None
        stmt_id, ncols, nparams = struct.unpack('<IHH', r[1:9])
        rec['statement_id'] = stmt_id
        for _ in range(nparams):
            self.read_packet()
        if nparams:
            self.read_packet()  # EOF
        for _ in range(ncols):
            self.read_packet()
        if ncols:
            self.read_packet()
        return rec, stmt_id

    def execute(self, stmt_id, sql, params):
        # Parameters as strings (MYSQL_TYPE_VAR_STRING), new-params-bound flag set.
        nullmap = b'\0' * ((len(params) + 7) // 8)
        body = struct.pack('<IBI', stmt_id, 0, 1) + nullmap + b'\x01'
        body += b''.join(b'\xfd\x00' for _ in params)
        for v in params:
            b = str(v).encode()
            body += bytes([len(b)]) + b
        rec, r = self.command(23, body)
        rec['resource'] = sql
        rec['statement_id'] = stmt_id
        self.read_result(rec, r)
        return rec

    def close_stmt(self, stmt_id):
        rec, _ = self.command(25, struct.pack('<I', stmt_id), expect_reply=False)
        rec['statement_id'] = stmt_id

    def quit(self):
        self.command(1, b'', expect_reply=False)
        self.s.shutdown(socket.SHUT_WR)
        while self.s.recv(65536):
            pass
        self.s.close()


def main():
    conns = []
    records = []
    c = Conn(records)
    c.login('shop')
    c.query('CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64), qty INT)')
    c.query("INSERT INTO items (name, qty) VALUES ('apple', 3), ('pear', 5)")
    c.query('/* traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 */ SELECT id, name FROM items ORDER BY id')
    c.query("UPDATE items SET qty = qty + 1 WHERE name = 'apple'")
    c.query('SELEC * FROM items')  # syntax error 1064
    c.query('SELECT * FROM no_such_table')  # 1146
    rec, sid = c.prepare('SELECT name, qty FROM items WHERE id = ?')
    c.execute(sid, rec['resource'], [1])
    c.execute(sid, rec['resource'], [2])
    c.close_stmt(sid)
    c.command(14, b'')
    c.command(2, b'no_such_db')[0]['resource'] = 'no_such_db'
    c.command(2, b'shop')[0]['resource'] = 'shop'
    c.query('DELETE FROM items WHERE qty > 4')
    c.quit()
    conns.append({'client': list(c.local), 'records': records})

    # A second connection: a wrong password (server error 1045 at login).
    records2 = []
    global PASSWORD
    good, PASSWORD = PASSWORD, 'wrong'
    c2 = Conn(records2)
    c2.login('shop')
    c2.s.close()
    PASSWORD = good
    conns.append({'client': list(c2.local), 'records': records2})
    json.dump({'server': [HOST, PORT], 'connections': conns}, open(OUT, 'w'), indent=1)


main()
