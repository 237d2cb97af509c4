#!/usr/bin/env python3
"""Writes mongo.pcap and mongo.truth.json: MongoDB is not packaged by Debian, so this crafts the wire messages
(MongoDB wire protocol: OP_MSG with body and document-sequence sections, legacy OP_QUERY / OP_REPLY /
OP_INSERT / OP_GET_MORE / OP_KILL_CURSORS) as a server and a driver exchange them, with TCP handshakes,
segments split at MSS 1448, and one answer larger than Flowscope's 16 KiB capture. tshark's mongo
dissector is the check that the messages are well formed (test/l7-mongo.test.ts)."""
import json, struct, sys

def cstr(s): return s.encode() + b'\x00'
class Int64(int): pass
def bson(d):
    out = b''
    for k, v in d.items():
        if isinstance(v, bool): out += b'\x08' + cstr(k) + (b'\x01' if v else b'\x00')
        elif isinstance(v, Int64): out += b'\x12' + cstr(k) + struct.pack('<q', v)
        elif isinstance(v, int): out += b'\x10' + cstr(k) + struct.pack('<i', v)
        elif isinstance(v, float): out += b'\x01' + cstr(k) + struct.pack('<d', v)
        elif isinstance(v, str): b = v.encode(); out += b'\x02' + cstr(k) + struct.pack('<i', len(b) + 1) + b + b'\x00'
        elif isinstance(v, dict): out += b'\x03' + cstr(k) + bson(v)
        elif isinstance(v, list): out += b'\x04' + cstr(k) + bson({str(i): x for i, x in enumerate(v)})
        elif isinstance(v, bytes): out += b'\x05' + cstr(k) + struct.pack('<i', len(v)) + b'\x00' + v
        elif v is None: out += b'\x0a' + cstr(k)
        else: raise TypeError(v)
    return struct.pack('<i', len(out) + 5) + out + b'\x00'

def header(body, rid, rto, op): return struct.pack('<iiii', 16 + len(body), rid, rto, op) + body
def op_msg(rid, rto, doc, seqs=(), flags=0):
    body = struct.pack('<I', flags) + b'\x00' + bson(doc)
    for ident, docs in seqs:
        payload = cstr(ident) + b''.join(bson(d) for d in docs)
        body += b'\x01' + struct.pack('<i', 4 + len(payload)) + payload
    return header(body, rid, rto, 2013)
def op_query(rid, ns, q): return header(struct.pack('<I', 0) + cstr(ns) + struct.pack('<ii', 0, -1) + bson(q), rid, 0, 2004)
def op_reply(rid, rto, docs, flags=0): return header(struct.pack('<IqiI', flags, 0, 0, len(docs)) + b''.join(bson(d) for d in docs), rid, rto, 1)
def op_insert(rid, ns, docs): return header(struct.pack('<I', 0) + cstr(ns) + b''.join(bson(d) for d in docs), rid, 0, 2002)
def op_get_more(rid, ns, cursor): return header(struct.pack('<I', 0) + cstr(ns) + struct.pack('<iq', 10, cursor), rid, 0, 2005)
def op_kill(rid, cursors): return header(struct.pack('<Ii', 0, len(cursors)) + b''.join(struct.pack('<q', c) for c in cursors), rid, 0, 2007)

# ---- TCP framing into a pcap (Ethernet, IPv4, TCP) ----
frames = []
t = [1_700_000_000_000_000]
def csum(b):
    if len(b) % 2: b += b'\x00'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def frame(src, dst, sport, dport, seq, ack, flags, payload=b''):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = bytes(src) + bytes(dst) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    t[0] += 150
    frames.append((t[0], b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00' + ip + tcp))
class Conn:
    def __init__(self, cport):
        self.c, self.s, self.cport, self.sport = [10, 0, 0, 1], [10, 0, 0, 2], cport, 27017
        self.cseq, self.sseq = 1000 + cport, 900000 + cport
        frame(self.c, self.s, cport, 27017, self.cseq, 0, 0x02); self.cseq += 1
        frame(self.s, self.c, 27017, cport, self.sseq, self.cseq, 0x12); self.sseq += 1
        frame(self.c, self.s, cport, 27017, self.cseq, self.sseq, 0x10)
    def send(self, from_client, data, split=1448):
        for k in range(0, len(data), split):
            part = data[k:k + split]
            if from_client:
                frame(self.c, self.s, self.cport, 27017, self.cseq, self.sseq, 0x18, part); self.cseq += len(part)
            else:
                frame(self.s, self.c, 27017, self.cport, self.sseq, self.cseq, 0x18, part); self.sseq += len(part)
        # the peer acknowledges
        if from_client: frame(self.s, self.c, 27017, self.cport, self.sseq, self.cseq, 0x10)
        else: frame(self.c, self.s, self.cport, 27017, self.cseq, self.sseq, 0x10)
    def close(self):
        frame(self.c, self.s, self.cport, 27017, self.cseq, self.sseq, 0x11); self.cseq += 1
        frame(self.s, self.c, 27017, self.cport, self.sseq, self.cseq, 0x11); self.sseq += 1
        frame(self.c, self.s, self.cport, 27017, self.cseq, self.sseq, 0x10)

truth = []
def row(conn, typ, db, coll, status='ok', code=None, exc=None, result=None, req=b'', resp=None, note=''):
    truth.append({'client_port': conn.cport, 'type': typ, 'db': db, 'collection': coll, 'status': status, 'code': code,
                  'exception': exc, 'result': result, 'request_length': len(req), 'response_length': None if resp is None else len(resp), 'note': note})

def call(conn, typ, db, coll, req, resp, split_req=1448, **kw):
    conn.send(True, req, split_req)
    if resp is not None: conn.send(False, resp)
    row(conn, typ, db, coll, req=req, resp=resp, **kw)

c = Conn(50001)
rid = 100
call(c, 'hello', 'admin', None, op_msg(1, 0, {'hello': 1, '$db': 'admin'}), op_msg(rid, 1, {'isWritablePrimary': True, 'maxWireVersion': 17, 'ok': 1.0}))
users = [{'_id': 1, 'name': 'ada', 'age': 36}, {'_id': 2, 'name': 'alan', 'age': 41}]
call(c, 'insert', 'shop', 'users', op_msg(2, 0, {'insert': 'users', 'ordered': True, '$db': 'shop'}, [('documents', users)]),
     op_msg(rid + 1, 2, {'n': 2, 'ok': 1.0}), result='n=2')
call(c, 'find', 'shop', 'users', op_msg(3, 0, {'find': 'users', 'filter': {'age': {'$gt': 30}}, '$db': 'shop'}),
     op_msg(rid + 2, 3, {'cursor': {'firstBatch': users, 'id': Int64(0), 'ns': 'shop.users'}, 'ok': 1.0}))
call(c, 'update', 'shop', 'users', op_msg(4, 0, {'update': 'users', '$db': 'shop'}, [('updates', [{'q': {'_id': 1}, 'u': {'$set': {'age': 37}}}])]),
     op_msg(rid + 3, 4, {'n': 1, 'nModified': 1, 'ok': 1.0}), result='n=1')
dup = 'E11000 duplicate key error collection: shop.users index: _id_ dup key: { _id: 1 }'
call(c, 'insert', 'shop', 'users', op_msg(5, 0, {'insert': 'users', '$db': 'shop'}, [('documents', users[:1])]),
     op_msg(rid + 4, 5, {'n': 0, 'writeErrors': [{'index': 0, 'code': 11000, 'keyPattern': {'_id': 1}, 'errmsg': dup}], 'ok': 1.0}),
     status='client_error', code=11000, exc=dup, note='write error with ok: 1')
call(c, 'aggregate', 'shop', 'orders', op_msg(6, 0, {'aggregate': 'orders', 'pipeline': [{'$match': {'state': 'open'}}, {'$group': {'_id': '$user', 'n': {'$sum': 1}}}], 'cursor': {}, '$db': 'shop'}),
     op_msg(rid + 5, 6, {'cursor': {'firstBatch': [], 'id': Int64(0), 'ns': 'shop.orders'}, 'ok': 1.0}))
call(c, 'frobnicate', 'shop', None, op_msg(7, 0, {'frobnicate': 1, '$db': 'shop'}),
     op_msg(rid + 6, 7, {'ok': 0.0, 'errmsg': "no such command: 'frobnicate'", 'code': 59, 'codeName': 'CommandNotFound'}),
     status='client_error', code=59, exc="no such command: 'frobnicate'")
call(c, 'delete', 'shop', 'users', op_msg(8, 0, {'delete': 'users', '$db': 'shop'}, [('deletes', [{'q': {'_id': 2}, 'limit': 1}])]),
     op_msg(rid + 7, 8, {'n': 1, 'ok': 1.0}), result='n=1')
big = [{'_id': i, 'name': 'user-%05d' % i, 'bio': 'x' * 60} for i in range(500)]   # ~45 KB answer, ok at its end
call(c, 'find', 'shop', 'users', op_msg(9, 0, {'find': 'users', 'filter': {}, '$db': 'shop'}),
     op_msg(rid + 8, 9, {'cursor': {'firstBatch': big, 'id': Int64(77), 'ns': 'shop.users'}, 'ok': 1.0}), note='answer beyond the capture limit')
call(c, 'getMore', 'shop', 'users', op_msg(10, 0, {'getMore': Int64(77), 'collection': 'users', '$db': 'shop'}),
     op_msg(rid + 9, 10, {'cursor': {'nextBatch': [], 'id': Int64(0), 'ns': 'shop.users'}, 'ok': 1.0}))
call(c, 'insert', 'shop', 'logs', op_msg(11, 0, {'insert': 'logs', 'writeConcern': {'w': 0}, '$db': 'shop'}, [('documents', [{'msg': 'fire and forget'}])], flags=2),
     None, note='moreToCome: no answer')
call(c, 'find', 'shop', 'users', op_msg(12, 0, {'find': 'users', 'filter': {'name': 'ada'}, 'comment': 'c' * 3000, '$db': 'shop'}),
     op_msg(rid + 10, 12, {'cursor': {'firstBatch': users[:1], 'id': Int64(0), 'ns': 'shop.users'}, 'ok': 1.0}), split_req=700, note='request in several segments')
# Two requests in flight, answered in the other order: responseTo pairs them.
a = op_msg(13, 0, {'count': 'users', '$db': 'shop'})
b = op_msg(14, 0, {'listCollections': 1, '$db': 'shop'})
ra = op_msg(rid + 12, 13, {'n': 1, 'ok': 1.0})
rb = op_msg(rid + 11, 14, {'cursor': {'firstBatch': [{'name': 'users'}], 'id': Int64(0), 'ns': 'shop.$cmd.listCollections'}, 'ok': 1.0})
c.send(True, a + b); c.send(False, rb); c.send(False, ra)
row(c, 'count', 'shop', 'users', req=a, resp=ra, result='n=1', note='answered second')
row(c, 'listCollections', 'shop', None, req=b, resp=rb, note='answered first')
c.close()

c = Conn(50002)
call(c, 'isMaster', 'admin', None, op_query(1, 'admin.$cmd', {'isMaster': 1, 'client': {'driver': {'name': 'legacy'}}}),
     op_reply(500, 1, [{'ismaster': True, 'maxWireVersion': 6, 'ok': 1.0}]))
call(c, 'query', 'shop', 'users', op_query(2, 'shop.users', {'name': {'$regex': '['}}),
     op_reply(501, 2, [{'$err': 'Regular expression is invalid: missing terminating ]', 'code': 2}], flags=2),
     status='client_error', code=2, exc='Regular expression is invalid: missing terminating ]', note='QueryFailure')
call(c, 'insert', 'shop', 'logs', op_insert(3, 'shop.logs', [{'msg': 'legacy insert'}]), None, note='OP_INSERT: no answer')
call(c, 'getMore', 'shop', 'users', op_get_more(4, 'shop.users', 77), op_reply(502, 4, []))
call(c, 'killCursors', None, None, op_kill(5, [77]), None, note='OP_KILL_CURSORS: no answer')
c.close()

with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    for ts, data in frames:
        f.write(struct.pack('<IIII', ts // 1_000_000, ts % 1_000_000, len(data), len(data)) + data)
json.dump({'requests': truth}, open(sys.argv[2], 'w'), indent=1)
print(len(truth), 'requests', len(frames), 'frames')
