"""Small protocol clients (HTTP/1.1, RESP, PostgreSQL v3, DNS) that record what they did and observed.

Everything written to the log is the client's own view: local address from getsockname(), times from
time.time_ns() around send/recv, status codes parsed from the replies the client received. The ground
truth is built from these logs, never from the captures.
"""
import json
import socket
import struct
import subprocess
import time

IO_TIMEOUT_S = 10.0


def now_us():
    return time.time_ns() // 1000


class Recorder:
    """Collects connections and requests of one workload process and writes them as JSON."""

    def __init__(self, pod, pod_ip):
        self.pod = pod
        self.pod_ip = pod_ip
        self.connections = []
        self.requests = []
        self.notes = []

    def add_connection(self, conn):
        conn["local_id"] = f"{self.pod}-{len(self.connections) + 1}"
        self.connections.append(conn)
        return conn

    def add_request(self, conn, req):
        req["connection"] = conn["local_id"]
        req["index_on_connection"] = conn["requests"]
        conn["requests"] += 1
        self.requests.append(req)
        return req

    def dump(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"pod": self.pod, "pod_ip": self.pod_ip, "connections": self.connections,
                       "requests": self.requests, "notes": self.notes}, f, indent=1)


# ---------------------------------------------------------------- TCP connections

class TcpConn:
    """A TCP connection bound to the pod IP first, so its port is known even if the connect is refused."""

    def __init__(self, rec, l7, server_ip, server_port, purpose):
        self.rec = rec
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT_S)
        self.sock.bind((rec.pod_ip, 0))
        local_ip, local_port = self.sock.getsockname()
        self.buf = b""
        self.server_will_close = False
        self.info = rec.add_connection({
            "transport": "tcp", "l7": l7, "purpose": purpose,
            "client_ip": local_ip, "client_port": local_port,
            "server_ip": server_ip, "server_port": server_port,
            "refused": False, "requests": 0,
            "connect_start_us": now_us(), "connect_end_us": None, "close_us": None, "fin_first": None,
        })
        try:
            self.sock.connect((server_ip, server_port))
        except ConnectionRefusedError:
            self.info["refused"] = True
            self.info["connect_end_us"] = now_us()
            self.info["close_us"] = self.info["connect_end_us"]
            self.sock.close()
            self.sock = None
            return
        self.info["connect_end_us"] = now_us()

    @property
    def refused(self):
        return self.info["refused"]

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        """Reads more bytes into the buffer; returns False at EOF."""
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def take(self, n):
        while len(self.buf) < n:
            if not self.fill():
                raise ConnectionError(f"EOF after {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def take_line(self):
        while b"\r\n" not in self.buf:
            if not self.fill():
                raise ConnectionError("EOF inside a line")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def close_by_client(self):
        """We send the first FIN (keep-alive connection we are done with)."""
        if self.buf:
            raise RuntimeError(f"closing with {len(self.buf)} unread bytes would send RST")
        self.info["fin_first"] = "client"
        self.sock.shutdown(socket.SHUT_WR)
        while self.sock.recv(65536):
            pass
        self.sock.close()
        self.info["close_us"] = now_us()

    def finish(self):
        """Ends the connection the way the protocol says: the server closes first if it announced it."""
        if self.server_will_close:
            self.close_after_server()
        else:
            self.close_by_client()

    def close_after_server(self):
        """The server closes first (Connection: close, PostgreSQL Terminate): wait for its FIN."""
        while self.fill():
            pass
        if self.buf:
            raise RuntimeError(f"{len(self.buf)} unexpected bytes before the server's FIN")
        self.info["fin_first"] = "server"
        self.sock.close()
        self.info["close_us"] = now_us()


def error_class_http(status):
    if 400 <= status < 500:
        return "client_error"
    if status >= 500:
        return "server_error"
    return "ok"


# ---------------------------------------------------------------- HTTP/1.1

def http_request_bytes(method, path, host, headers=None, body=b"", close=False):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: flowscope-sample/1"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_read_response(conn):
    """Parses one response from conn's buffer; returns (status, headers, body, first_byte_us)."""
    while not conn.buf:
        if not conn.fill():
            raise ConnectionError("EOF before response")
    first_byte_us = now_us()
    while b"\r\n\r\n" not in conn.buf:
        if not conn.fill():
            raise ConnectionError("EOF inside response head")
    head, conn.buf = conn.buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = conn.take(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(conn.take_line().split(b";")[0], 16)
            if size == 0:
                conn.take_line()
                break
            body += conn.take(size)
            conn.take_line()
    else:
        raise RuntimeError("response without length")
    return status, headers, body, first_byte_us


def http_exchange(conn, reqs, host):
    """Sends one or more requests in a single write (more than one = HTTP/1.1 pipelining) and reads the
    responses in order. reqs: dicts with method, path and optional headers, body, close."""
    wire = b"".join(http_request_bytes(r["method"], r["path"], host, r.get("headers"), r.get("body", b""),
                                       r.get("close", False)) for r in reqs)
    start = now_us()
    conn.send(wire)
    out = []
    for r in reqs:
        status, headers, body, first = http_read_response(conn)
        end = now_us()
        # nginx answers some errors (500, 501, 400...) with "Connection: close" even on keep-alive.
        server_closes = headers.get("connection", "").lower() == "close"
        conn.server_will_close = conn.server_will_close or server_closes
        rec = conn.rec.add_request(conn.info, {
            "protocol": "http", "version": "1.1", "method": r["method"], "resource": r["path"], "host": host,
            "status": status, "code": status, "error_class": error_class_http(status),
            "start_us": start, "first_byte_us": first, "end_us": end,
            "request_bytes": len(http_request_bytes(r["method"], r["path"], host, r.get("headers"),
                                                    r.get("body", b""), r.get("close", False))),
            "response_body_bytes": len(body),
            "pipelined": len(reqs) > 1,
            "x_request_id": (r.get("headers") or {}).get("X-Request-ID"),
            "traceparent": (r.get("headers") or {}).get("traceparent"),
            "response_x_request_id": headers.get("x-request-id"),
            "connection_close": bool(r.get("close", False)),
            "response_connection_close": server_closes,
        })
        out.append(rec)
    return out


# ---------------------------------------------------------------- Redis (RESP2)

def resp_encode(args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
    return b"".join(out)


def resp_read(conn):
    line = conn.take_line()
    kind, rest = chr(line[0]), line[1:].decode()
    if kind == "+":
        return "simple_string", rest
    if kind == "-":
        return "error", rest
    if kind == ":":
        return "integer", int(rest)
    if kind == "$":
        n = int(rest)
        if n < 0:
            return "null", None
        data = conn.take(n + 2)[:-2]
        return "bulk_string", data.decode()
    if kind == "*":
        n = int(rest)
        if n < 0:
            return "null", None
        return "array", [resp_read(conn)[1] for _ in range(n)]
    raise RuntimeError(f"unknown RESP type {kind!r}")


def redis_command(conn, *args):
    start = now_us()
    conn.send(resp_encode(args))
    while not conn.buf:
        if not conn.fill():
            raise ConnectionError("EOF before redis reply")
    first = now_us()
    kind, value = resp_read(conn)
    end = now_us()
    return conn.rec.add_request(conn.info, {
        "protocol": "redis", "method": args[0].upper(), "resource": " ".join(args),
        "key": args[1] if len(args) > 1 else None,
        "reply_type": kind, "reply": value,
        "code": None, "status": "error" if kind == "error" else "ok",
        "error_class": "server_error" if kind == "error" else "ok",
        "start_us": start, "first_byte_us": first, "end_us": end,
    })


# ---------------------------------------------------------------- PostgreSQL (protocol 3.0, simple query)

def pg_read_message(conn):
    kind = chr(conn.take(1)[0])
    (length,) = struct.unpack("!I", conn.take(4))
    return kind, conn.take(length - 4)


def pg_startup(conn, user, database):
    params = f"user\0{user}\0database\0{database}\0application_name\0flowscope-sample\0\0".encode()
    body = struct.pack("!I", 196608) + params
    start = now_us()
    conn.send(struct.pack("!I", len(body) + 4) + body)
    auth = None
    while True:
        kind, payload = pg_read_message(conn)
        if kind == "R":
            auth = struct.unpack("!I", payload[:4])[0]
            if auth != 0:
                raise RuntimeError(f"server asked for authentication method {auth}; the sample uses trust")
        elif kind == "E":
            raise RuntimeError(f"startup failed: {payload!r}")
        elif kind == "Z":
            break
    conn.info["pg_startup"] = {"user": user, "database": database, "auth": "trust",
                               "start_us": start, "end_us": now_us()}


def pg_error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode()
    return fields


def pg_query(conn, sql):
    start = now_us()
    conn.send(b"Q" + struct.pack("!I", len(sql.encode()) + 5) + sql.encode() + b"\0")
    first = None
    rows = 0
    tag = None
    error = None
    while True:
        kind, payload = pg_read_message(conn)
        if first is None:
            first = now_us()
        if kind == "D":
            rows += 1
        elif kind == "C":
            tag = payload.rstrip(b"\0").decode()
        elif kind == "E":
            error = pg_error_fields(payload)
        elif kind == "Z":
            break
    end = now_us()
    return conn.rec.add_request(conn.info, {
        "protocol": "postgresql", "method": "Q", "request_type": "simple query", "resource": sql,
        "rows": rows, "command_tag": tag,
        "code": error["C"] if error else None,
        "status": "error" if error else "ok",
        "error_message": error["M"] if error else None,
        "error_class": pg_error_class(error["C"]) if error else "ok",
        "start_us": start, "first_byte_us": first, "end_us": end,
    })


def pg_error_class(sqlstate):
    # DeepFlow's table (postgre_convert.rs): these SQLSTATE classes are the client's fault, the rest the server's.
    client_classes = {"03", "0A", "0B", "0F", "0L", "0P", "20", "22", "23", "26", "2F", "34", "3D", "3F", "42"}
    if sqlstate in ("40001", "40003", "40P01"):
        return "client_error"
    return "client_error" if sqlstate[:2] in client_classes else "server_error"


def pg_terminate(conn):
    conn.send(b"X" + struct.pack("!I", 4))
    conn.close_after_server()


# ---------------------------------------------------------------- DNS over UDP

QTYPES = {"A": 1, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def dns_error_class(rcode):
    if rcode == 0:
        return "ok"
    return "client_error" if rcode in (1, 3) else "server_error"


def dns_query(rec, server_ip, qname, qtype, txid, purpose):
    """One query from its own socket (like a stub resolver): one UDP flow per query."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(IO_TIMEOUT_S)
    sock.bind((rec.pod_ip, 0))
    local_ip, local_port = sock.getsockname()
    conn = rec.add_connection({
        "transport": "udp", "l7": "dns", "purpose": purpose,
        "client_ip": local_ip, "client_port": local_port, "server_ip": server_ip, "server_port": 53,
        "refused": False, "requests": 0, "connect_start_us": None, "connect_end_us": None,
        "close_us": None, "fin_first": None,
    })
    question = b"".join(bytes([len(label)]) + label.encode() for label in qname.split(".")) + b"\0"
    question += struct.pack("!HH", QTYPES[qtype], 1)
    msg = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + question
    start = now_us()
    conn["connect_start_us"] = start
    sock.sendto(msg, (server_ip, 53))
    data, _ = sock.recvfrom(4096)
    end = now_us()
    sock.close()
    conn["close_us"] = end
    rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if rid != txid:
        raise RuntimeError(f"DNS id mismatch {rid} != {txid}")
    rcode = flags & 0xF
    answers = dns_answers(data, 12 + len(question), an)
    return rec.add_request(conn, {
        "protocol": "dns", "method": qtype, "resource": qname, "transaction_id": txid,
        "code": rcode, "status": RCODES.get(rcode, str(rcode)), "error_class": dns_error_class(rcode),
        "authoritative": bool(flags & 0x0400), "answers": answers,
        "start_us": start, "first_byte_us": end, "end_us": end,
        "request_bytes": len(msg), "response_bytes": len(data),
    })


def dns_skip_name(data, off):
    while True:
        n = data[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += n + 1


def dns_answers(data, off, count):
    out = []
    for _ in range(count):
        off = dns_skip_name(data, off)
        rtype, _cls, ttl, rdlen = struct.unpack("!HHIH", data[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            out.append({"type": "A", "value": socket.inet_ntoa(data[off:off + 4]), "ttl": ttl})
        off += rdlen
    return out


# ---------------------------------------------------------------- induced packet loss

def nft(script):
    subprocess.run(["nft", "-f", "-"], input=script.encode(), check=True, timeout=10)


def nft_counter_packets(table):
    """Packets counted by the counters of an inet table (how many segments the loss rule dropped)."""
    listing = subprocess.run(["nft", "-j", "list", "table", "inet", table], check=True, timeout=10,
                             capture_output=True).stdout
    total = 0
    for item in json.loads(listing)["nftables"]:
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                total += expr["counter"]["packets"]
    return total
