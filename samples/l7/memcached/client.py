#!/usr/bin/env python3
"""Drives memcached (text and binary protocol) with a known workload and writes the truth as the
client saw it: one entry per request, in order, with what was sent and what came back."""
import json, socket, struct, sys, time

HOST, PORT, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
truth = []

def recv_until(s, buf, pred):
    while True:
        n = pred(buf)
        if n is not None:
            return buf[:n], buf[n:]
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError('closed')
        buf += chunk

def text_answer(buf):
    """Length of one complete text answer at the start of buf, or None."""
    i = buf.find(b'\r\n')
    if i < 0:
        return None
    first = buf[:i].split(b' ')
    if first[0] == b'VA':
        size = int(first[1])
        return i + 2 + size + 2 if len(buf) >= i + 2 + size + 2 else None
    if first[0] not in (b'VALUE', b'STAT'):
        return i + 2
    p = 0
    while True:
        j = buf.find(b'\r\n', p)
        if j < 0:
            return None
        line = buf[p:j].split(b' ')
        if line[0] == b'END':
            return j + 2
        if line[0] == b'VALUE':
            size = int(line[3])
            if len(buf) < j + 2 + size + 2:
                return None
            p = j + 2 + size + 2
        else:
            p = j + 2

def text_conn(port):
    s = socket.create_connection((HOST, port))
    client_port = s.getsockname()[1]
    buf = b''
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def req(line, data=None, noreply=False, note=''):
        nonlocal buf
        raw = line.encode() + b'\r\n' + (data + b'\r\n' if data is not None else b'')
        if len(raw) > 1400:
            # Large values leave in pieces, as a client writing a stream would: several segments.
            for k in range(0, len(raw), 1400):
                s.sendall(raw[k:k + 1400])
                time.sleep(0.005)
        else:
            s.sendall(raw)
        t = {'proto': 'text', 'client_port': client_port, 'command': line.split(' ')[0], 'line': line,
             'request_length': len(raw), 'noreply': noreply, 'note': note}
        if not noreply:
            ans, buf = recv_until(s, buf, text_answer)
            first = ans.split(b'\r\n', 1)[0].decode('latin1')
            t.update(response_line=first, response_length=len(ans))
        truth.append(t)
    req('set k1 0 0 5', b'hello', note='stored')
    req('get k1', note='hit')
    req('get nokey', note='miss')
    req('gets k1', note='hit with cas')
    req('cas k1 0 0 3 999999', b'new', note='exists')
    req('add k1 0 0 1', b'x', note='not stored')
    req('replace nokey 0 0 1', b'x', note='not stored')
    req('append k1 0 0 6', b' world')
    req('prepend k1 0 0 3', b'>> ')
    req('incr counter 1', note='not found')
    req('set counter 0 0 2', b'10')
    req('incr counter 5')
    req('decr counter 3')
    req('incr k1 1', note='client error: non-numeric')
    req('touch k1 100')
    req('set k2 7 0 4', b'two!')
    req('get k1 k2 nokey', note='multi-get, two hits')
    req('delete k2')
    req('delete k2', note='not found')
    req('stats', note='STAT lines')
    req('version')
    req('bogus_command arg', note='ERROR')
    req('set big 0 0 3000', b'B' * 3000, note='spans segments')
    req('get big')
    req('set huge 0 0 5000', b'H' * 5000, note='server error: larger than -I')
    req('set k3 0 0 3 noreply', b'abc', noreply=True, note='noreply')
    req('get k3')
    # Pipelined: three gets in one write, answers read afterwards.
    lines = ['get k1', 'get nokey2', 'get k3']
    s.sendall(b''.join(l.encode() + b'\r\n' for l in lines))
    for l in lines:
        ans, buf = recv_until(s, buf, text_answer)
        truth.append({'proto': 'text', 'client_port': client_port, 'command': 'get', 'line': l,
                      'request_length': len(l) + 2, 'noreply': False, 'note': 'pipelined',
                      'response_line': ans.split(b'\r\n', 1)[0].decode('latin1'), 'response_length': len(ans)})
    req('set bad 0 0 2', b'toolong', note='client error: bad data chunk')
    # memcached answers the bad chunk with CLIENT_ERROR then reads the rest as a command → ERROR.
    ans, buf = recv_until(s, buf, text_answer)
    truth.append({'proto': 'text', 'client_port': client_port, 'command': None, 'line': None, 'noreply': False,
                  'note': 'answer to the leftover bytes of the bad chunk', 'response_line': ans.split(b'\r\n', 1)[0].decode('latin1'),
                  'response_length': len(ans)})
    # Meta commands (memcached >= 1.6).
    req('ms mk 2 T0', b'hi', note='meta set: HD')
    req('mg mk v', note='meta get hit: VA with a data block')
    req('mg nokey v', note='meta get miss: EN')
    req('md mk', note='meta delete: HD')
    req('mn', note='meta no-op: MN')
    req('flush_all')
    s.sendall(b'quit\r\n')
    truth.append({'proto': 'text', 'client_port': client_port, 'command': 'quit', 'line': 'quit', 'request_length': 6,
                  'noreply': True, 'note': 'quit'})
    time.sleep(0.05)
    s.close()

BIN_OPS = {'get': 0, 'set': 1, 'add': 2, 'delete': 4, 'incr': 5, 'getq': 9, 'noop': 10, 'version': 11, 'getk': 12}

def bin_conn(port):
    s = socket.create_connection((HOST, port))
    client_port = s.getsockname()[1]
    buf = b''
    opaque = 0x1000
    def send(op, key=b'', extras=b'', value=b'', opcode=None):
        nonlocal opaque
        opaque += 1
        code = BIN_OPS[op] if opcode is None else opcode
        body = extras + key + value
        hdr = struct.pack('>BBHBBHIIQ', 0x80, code, len(key), len(extras), 0, 0, len(body), opaque, 0)
        s.sendall(hdr + body)
        return opaque, 24 + len(body)
    def read():
        nonlocal buf
        def one(b):
            if len(b) < 24:
                return None
            total = struct.unpack('>I', b[8:12])[0]
            return 24 + total if len(b) >= 24 + total else None
        ans, buf = recv_until(s, buf, one)
        _, op, kl, el, _, status, total, opq, _ = struct.unpack('>BBHBBHIIQ', ans[:24])
        return {'opaque': opq, 'status': status, 'response_length': len(ans), 'op': op}
    def req(op, key=b'', extras=b'', value=b'', opcode=None, note=''):
        opq, n = send(op, key, extras, value, opcode)
        r = read()
        assert r['opaque'] == opq
        truth.append({'proto': 'binary', 'client_port': client_port, 'command': op, 'key': key.decode(),
                      'opaque': opq, 'request_length': n, 'status': r['status'], 'response_length': r['response_length'], 'note': note})
    flags_exp = struct.pack('>II', 0, 0)
    req('set', b'bk1', flags_exp, b'binary-value')
    req('get', b'bk1', note='hit')
    req('get', b'nokey', note='miss: status 1')
    req('getk', b'bk1')
    req('add', b'bk1', flags_exp, b'x', note='exists: status 2')
    req('incr', b'bk1', struct.pack('>QQI', 1, 0, 0), note='non-numeric: status 6')
    req('delete', b'bk1')
    req('version')
    req('get', b'', opcode=0x50, note='unknown command: status 0x81')
    # Quiet gets: a miss is never answered, a hit is; the noop answers last.
    q1, n1 = send('getq', b'nokey-q')
    opq_hit = None
    req('set', b'bk2', flags_exp, b'v2')
    q2, n2 = send('getq', b'bk2')
    q3, n3 = send('noop')
    r2 = read()
    r3 = read()
    assert r2['opaque'] == q2 and r3['opaque'] == q3
    truth.append({'proto': 'binary', 'client_port': client_port, 'command': 'getq', 'key': 'nokey-q', 'opaque': q1, 'request_length': n1,
                  'status': None, 'response_length': None, 'note': 'quiet miss: no answer'})
    truth.append({'proto': 'binary', 'client_port': client_port, 'command': 'getq', 'key': 'bk2', 'opaque': q2, 'request_length': n2,
                  'status': r2['status'], 'response_length': r2['response_length'], 'note': 'quiet hit'})
    truth.append({'proto': 'binary', 'client_port': client_port, 'command': 'noop', 'key': '', 'opaque': q3, 'request_length': n3,
                  'status': r3['status'], 'response_length': r3['response_length'], 'note': ''})
    s.close()

text_conn(PORT)
bin_conn(PORT)
json.dump({'server_port': PORT, 'requests': truth}, open(OUT, 'w'), indent=1)
print(len(truth), 'requests')
