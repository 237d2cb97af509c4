"""The api pod's own outgoing calls (runs inside fs-pod-api on node2): the app behind nginx talking to
its backends on the same node, after looking them up in the cluster DNS on node1.

Usage: workload_api.py OUT.json
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsnet import Recorder, TcpConn, dns_query, pg_query, pg_startup, pg_terminate, redis_command  # noqa: E402
from topology import load  # noqa: E402

PAUSE_S = 0.03


def main():
    out = sys.argv[1]
    topo = load()
    pods = {p["name"]: p for p in topo["pods"]}
    rec = Recorder("api", pods["api"]["ip"])

    # 1. Look up the backends' pod records (StatefulSet-style names) in the DNS pod on the other node.
    redis = dns_query(rec, pods["dns"]["ip"], "redis-0.redis.default.svc.cluster.local", "A", 0x2200, "lookup")
    time.sleep(PAUSE_S)
    db = dns_query(rec, pods["dns"]["ip"], "db-0.db.default.svc.cluster.local", "A", 0x2201, "lookup")
    time.sleep(PAUSE_S)
    redis_ip = redis["answers"][0]["value"]
    db_ip = db["answers"][0]["value"]

    # 2. Redis on the same node (pod to pod over the bridge).
    c = TcpConn(rec, "redis", redis_ip, 6379, "same-node")
    for cmd in [("LPUSH", "queue", "job1"), ("LPUSH", "queue", "job2"), ("LRANGE", "queue", "0", "-1"),
                ("GET", "user:1")]:
        redis_command(c, *cmd)
        time.sleep(PAUSE_S)
    c.close_by_client()
    time.sleep(PAUSE_S)

    # 3. PostgreSQL on the same node, including one error (division by zero, SQLSTATE 22012).
    c = TcpConn(rec, "postgresql", db_ip, 5432, "same-node")
    pg_startup(c, "postgres", "postgres")
    time.sleep(PAUSE_S)
    for sql in ["INSERT INTO items (name) VALUES ('widget')", "SELECT count(*) FROM items", "SELECT 1/0"]:
        pg_query(c, sql)
        time.sleep(PAUSE_S)
    pg_terminate(c)

    rec.dump(out)


if __name__ == "__main__":
    main()
