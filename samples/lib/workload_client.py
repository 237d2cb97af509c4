"""The client pod's workload (runs inside fs-pod-client on node1). Fixed steps, fixed counts.

Usage: workload_client.py OUT.json
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsnet import (Recorder, TcpConn, dns_query, http_exchange, nft, nft_counter_packets, pg_query,  # noqa: E402
                   pg_startup, pg_terminate, redis_command)
from topology import load  # noqa: E402

PAUSE_S = 0.03  # keeps steps apart in time, so hop copies of different requests never overlap


def pause():
    time.sleep(PAUSE_S)


def traceparent(n):
    return f"00-{n:032x}-{n + 0x1000:016x}-01"


class Ids:
    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        return f"fs-client-{self.n:04d}"


def main():
    out = sys.argv[1]
    topo = load()
    pods = {p["name"]: p for p in topo["pods"]}
    rec = Recorder("client", pods["client"]["ip"])
    dns_ip = pods["dns"]["ip"]
    ids = Ids()

    # 1. Name lookups: one socket per query, as a stub resolver does.
    resolved = {}
    lookups = [("frontend.default.svc.cluster.local", "A"), ("api.default.svc.cluster.local", "A"),
               ("redis.default.svc.cluster.local", "A"), ("db.default.svc.cluster.local", "A"),
               ("api.default.svc.cluster.local", "AAAA"),  # name exists, no AAAA record: NOERROR, no answer
               ("nope.default.svc.cluster.local", "A"),  # inside the cluster domain: NXDOMAIN
               ("upstream.example.org", "A")]  # outside it, and dnsmasq has no upstream: REFUSED
    for i, (name, qtype) in enumerate(lookups):
        r = dns_query(rec, dns_ip, name, qtype, 0x1100 + i, "lookup")
        if qtype == "A":
            resolved[name] = r["answers"][0]["value"] if r["answers"] else None
        pause()
    frontend = resolved["frontend.default.svc.cluster.local"]
    api = resolved["api.default.svc.cluster.local"]
    redis = resolved["redis.default.svc.cluster.local"]
    db = resolved["db.default.svc.cluster.local"]
    if None in (frontend, api, redis, db):
        sys.exit(f"workload_client: a service name did not resolve: {resolved}")
    host = "frontend.default.svc.cluster.local"

    def get(path, **kw):
        return {"method": "GET", "path": path, "headers": {"X-Request-ID": ids.next()}, **kw}

    # 2. Keep-alive connection, five requests one after another (200, 200, 200, 404, 500).
    c = TcpConn(rec, "http", frontend, 80, "keep-alive")
    for path in ["/", "/healthz", "/users/123", "/missing", "/error"]:
        http_exchange(c, [get(path)], host)
        pause()
    c.finish()  # the 500 came with "Connection: close": nginx closes first
    pause()

    # 3. Second keep-alive connection with a POST in the middle (201).
    c = TcpConn(rec, "http", frontend, 80, "keep-alive")
    http_exchange(c, [get("/users/456")], host)
    pause()
    http_exchange(c, [{"method": "POST", "path": "/orders", "body": b'{"item": 7, "qty": 2}',
                       "headers": {"X-Request-ID": ids.next()}}], host)
    pause()
    http_exchange(c, [get("/users/789")], host)
    c.finish()
    pause()

    # 4. Three one-shot connections (Connection: close, the server closes first).
    for path in ["/", "/healthz", "/nothing-here"]:
        c = TcpConn(rec, "http", frontend, 80, "one-shot")
        http_exchange(c, [get(path, close=True)], host)
        c.finish()
        pause()

    # 5. HTTP/1.1 pipelining: three requests in one write, then one more on its own.
    c = TcpConn(rec, "http", frontend, 80, "pipelined")
    http_exchange(c, [get("/users/1"), get("/missing"), get("/healthz")], host)
    pause()
    http_exchange(c, [get("/")], host)
    c.finish()
    pause()

    # 6. Requests the frontend proxies to the api service (one upstream connection per request).
    c = TcpConn(rec, "http", frontend, 80, "via-proxy")
    for n, path in enumerate(["/api/items", "/api/fail", "/api/items/7"], start=1):
        req = get(path)
        req["headers"]["traceparent"] = traceparent(n)
        http_exchange(c, [req], host)
        pause()
    c.finish()
    pause()

    # 7. Straight to the api ClusterIP: DNAT on node1, across the VXLAN overlay to node2.
    c = TcpConn(rec, "http", api, 80, "cross-node")
    for n, path in enumerate(["/items", "/items/42", "/absent", "/fail"], start=11):
        req = get(path)
        req["headers"]["traceparent"] = traceparent(n)
        http_exchange(c, [req], "api.default.svc.cluster.local")
        pause()
    c.finish()
    pause()

    # 8. Redis through its ClusterIP, including one error reply (unknown command).
    c = TcpConn(rec, "redis", redis, 6379, "cross-node")
    for cmd in [("PING",), ("SET", "user:1", "alice"), ("GET", "user:1"), ("GET", "user:999"),
                ("INCR", "hits"), ("FLY", "away"), ("DEL", "user:1")]:
        redis_command(c, *cmd)
        pause()
    c.close_by_client()
    pause()

    # 9. PostgreSQL through its ClusterIP, including one error (undefined table, SQLSTATE 42P01).
    c = TcpConn(rec, "postgresql", db, 5432, "cross-node")
    pg_startup(c, "postgres", "postgres")
    pause()
    for sql in ["SELECT 1", "SELECT id, name FROM items ORDER BY id", "SELECT * FROM no_such_table"]:
        pg_query(c, sql)
        pause()
    pg_terminate(c)
    pause()

    # 10. Refused connections: closed ports answer SYN with RST (one on this node, one across nodes).
    for ip, port in [(frontend, 81), (pods["redis"]["ip"], 6380)]:
        c = TcpConn(rec, "none", ip, port, "refused")
        if not c.refused:
            sys.exit(f"workload_client: {ip}:{port} was expected to refuse")
        pause()

    # 11. A 64 KiB download while every 8th full-size segment from the server is dropped at our ingress:
    # the server must retransmit (count depends on TCP recovery, so the truth only says "> 0").
    nft(f"""table inet fs_loss {{
  chain input {{
    type filter hook input priority 0; policy accept;
    ip saddr {frontend} tcp sport 8080 ip length > 1000 numgen inc mod 8 == 3 counter drop
  }}
}}""")
    try:
        c = TcpConn(rec, "http", frontend, 8080, "lossy-download")
        c.info["retransmissions_expected"] = True
        http_exchange(c, [get("/big")], host)
        c.finish()
        c.info["segments_dropped_by_rule"] = nft_counter_packets("fs_loss")
    finally:
        nft("delete table inet fs_loss")

    rec.dump(out)


if __name__ == "__main__":
    main()
