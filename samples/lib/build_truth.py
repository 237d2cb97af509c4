"""Assembles samples/k8s.truth.json from what the generator itself knows: the topology it built
(topology.json + `ip -j link` of each node), the clients' records (workload_*.py), and the servers' own
access logs for the one kind of connection no client script opens (nginx proxying to the api service).
Nothing here reads the captures. Before writing, every client-observed HTTP request is checked against the
server's access log (same tuple, same status), so a workload that went wrong fails the generator.
"""
import argparse
import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topology import load  # noqa: E402

SCHEMA = "flowscope-samples-truth/1"


def die(msg):
    sys.exit(f"build_truth: {msg}")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------------------------------------ topology

def interface_kind(name):
    if name == "lo":
        return "loopback"
    if name == "eth0":
        return "eth"
    if name == "cni0":
        return "bridge"
    if name == "vxlan0":
        return "vxlan"
    if name.startswith("veth-"):
        return "veth"
    return "other"


def build_topology(topo, work):
    pods_by_veth = {p["veth"]: p["name"] for p in topo["pods"]}
    nodes = []
    for n in topo["nodes"]:
        links = read_json(os.path.join(work, f"links-{n['netns']}.json"))
        addrs = {a["ifname"]: [f"{i['local']}/{i['prefixlen']}" for i in a.get("addr_info", [])
                               if i.get("family") == "inet"]
                 for a in read_json(os.path.join(work, f"addrs-{n['netns']}.json"))}
        ifaces = []
        for link in sorted(links, key=lambda x: x["ifindex"]):
            name = link["ifname"]
            kind = interface_kind(name)
            entry = {"name": name, "ifindex": link["ifindex"], "kind": kind, "mac": link.get("address"),
                     "mtu": link.get("mtu"), "ips": addrs.get(name, []), "master": link.get("master")}
            if kind == "veth":
                entry["pod"] = pods_by_veth[name]
            if kind == "eth":
                entry["note"] = "underlay NIC (a veth pair between the two node namespaces)"
            if kind == "vxlan":
                data = link["linkinfo"]["info_data"]
                entry["vxlan"] = {"vni": data["id"], "dstport": data["port"], "local": data["local"],
                                  "learning": data.get("learning", False)}
            ifaces.append(entry)
        nodes.append({"name": n["name"], "netns": n["netns"], "underlay_ip": n["underlay_ip"],
                      "pod_cidr": n["pod_cidr"], "bridge_ip": n["bridge_ip"], "vxlan_ip": n["vxlan_ip"],
                      "interfaces": ifaces})
    pods = [{"name": p["name"], "namespace": p["namespace"], "node": p["node"], "netns": p["netns"],
             "ip": p["ip"], "mac": p["mac"], "host_veth": p["veth"], "host_veth_mac": p["veth_mac"],
             "app": p["app"]} for p in topo["pods"]]
    services = []
    for s in topo["services"]:
        services.append({"name": s["name"], "namespace": s["namespace"], "type": s["type"], "dns": s["dns"],
                         "ip": s["ip"], "pod": s["pod"], "ports": s["ports"]})
    return {"cluster": topo["cluster"], "nodes": nodes, "pods": pods, "services": services,
            "dns_records": topo["dns_records"]}


class Net:
    """Answers routing questions about the built topology: who owns an IP, where DNAT applies, which
    interfaces a packet from one pod to an address crosses."""

    def __init__(self, topo, topology_out):
        self.topo = topo
        self.pods = {p["name"]: p for p in topo["pods"]}
        self.pod_by_ip = {p["ip"]: p for p in topo["pods"]}
        self.nodes = {n["name"]: n for n in topo["nodes"]}
        self.ifindex = {(n["name"], i["name"]): i["ifindex"] for n in topology_out["nodes"] for i in n["interfaces"]}
        self.service_by_ip = {s["ip"]: s for s in topo["services"]}
        self.vxlan = topo["cluster"]["vxlan"]

    def backend(self, ip, port):
        """(pod, backend ip, backend port, service name or None, dnat) for a dialed address."""
        svc = self.service_by_ip.get(ip)
        if svc and svc["type"] == "ClusterIP":
            pod = self.pods[svc["pod"]]
            for p in svc["ports"]:
                if p["port"] == port:
                    return pod, pod["ip"], p["target_port"], svc["name"], True
            # no port mapping: kube-proxy has no rule, the packet would go nowhere; the workload never does this
            die(f"{ip}:{port} is a ClusterIP without that port")
        pod = self.pod_by_ip.get(ip)
        if pod is None:
            die(f"{ip} is neither a pod nor a service")
        # A headless service names the pod's address only on the ports it declares.
        name = svc["name"] if svc and any(p["port"] == port for p in svc["ports"]) else None
        return pod, ip, port, name, False

    def hop(self, node, iface, direction, src, sport, dst, dport, encap=None):
        return {"node": node, "interface": iface, "ifindex": self.ifindex[(node, iface)],
                "direction": direction, "src_ip": src, "src_port": sport, "dst_ip": dst, "dst_port": dport,
                "encap": encap}

    def hops(self, client_pod, client_ip, client_port, dialed_ip, dialed_port):
        """Interfaces the client->server packets cross, in order, with the addresses seen there.
        direction is from the node's point of view (rx = arriving on that interface, tx = leaving)."""
        server_pod, bip, bport, _svc, dnat = self.backend(dialed_ip, dialed_port)
        c = self.pods[client_pod]
        s = server_pod
        if c["node"] == s["node"]:
            if dnat:
                # Same-node ClusterIP traffic would need br_netfilter for the reply; the workload avoids it.
                die(f"{client_pod} -> {dialed_ip}: same-node ClusterIP is not part of the sample")
            # Bridged at L2: the frame goes from one bridge port to the other; cni0 itself never sees it.
            return [self.hop(c["node"], c["veth"], "rx", client_ip, client_port, bip, bport),
                    self.hop(c["node"], s["veth"], "tx", client_ip, client_port, bip, bport)]
        cn, sn = self.nodes[c["node"]], self.nodes[s["node"]]
        encap = {"type": "vxlan", "vni": self.vxlan["vni"], "outer_src_ip": cn["underlay_ip"],
                 "outer_dst_ip": sn["underlay_ip"], "outer_dst_port": self.vxlan["dstport"],
                 "inner_src_mac": cn["vxlan_mac"], "inner_dst_mac": sn["vxlan_mac"]}
        # DNAT happens in node prerouting, after the packet was seen on cni0: the client's veth and cni0 see
        # the ClusterIP, everything after the routing decision sees the pod IP.
        return [self.hop(cn["name"], c["veth"], "rx", client_ip, client_port, dialed_ip, dialed_port),
                self.hop(cn["name"], "cni0", "rx", client_ip, client_port, dialed_ip, dialed_port),
                self.hop(cn["name"], "vxlan0", "tx", client_ip, client_port, bip, bport),
                self.hop(cn["name"], "eth0", "tx", client_ip, client_port, bip, bport, encap),
                self.hop(sn["name"], "eth0", "rx", client_ip, client_port, bip, bport, encap),
                self.hop(sn["name"], "vxlan0", "rx", client_ip, client_port, bip, bport),
                self.hop(sn["name"], "cni0", "tx", client_ip, client_port, bip, bport),
                self.hop(sn["name"], s["veth"], "tx", client_ip, client_port, bip, bport)]


# ------------------------------------------------------------------------------------------ workload

def nginx_log(path):
    out = []
    for e in read_jsonl(path):
        method, target, version = e["request"].split(" ")
        start_s = float(e["msec"]) - float(e["request_time"])
        e.update({"method": method, "path": target, "version": version.split("/")[1],
                  "status": int(e["status"]), "remote_port": int(e["remote_port"]),
                  "server_port": int(e["server_port"]),
                  "start_us": round(start_s * 1_000_000), "end_us": round(float(e["msec"]) * 1_000_000)})
        out.append(e)
    return out


def error_class_http(status):
    return "client_error" if 400 <= status < 500 else "server_error" if status >= 500 else "ok"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--capture-start-us", type=int, required=True)
    ap.add_argument("--capture-end-us", type=int, required=True)
    ap.add_argument("--versions", nargs="*", default=[])
    args = ap.parse_args()
    work = args.work

    topo = load()
    topology = build_topology(topo, work)
    net = Net(topo, topology)
    pods_by_ip = {p["ip"]: p for p in topo["pods"]}

    runs = [read_json(os.path.join(work, "client.json")), read_json(os.path.join(work, "api.json"))]
    fe_log = nginx_log(os.path.join(work, "frontend", "access.log"))
    api_log = nginx_log(os.path.join(work, "api", "access.log"))

    conns = []  # (sort key, connection dict, [requests])
    for run in runs:
        reqs_by_conn = {}
        for r in run["requests"]:
            reqs_by_conn.setdefault(r["connection"], []).append(r)
        for c in run["connections"]:
            c = dict(c)
            c["client_pod"] = run["pod"]
            c["observed_by"] = f"client ({run['pod']} pod, getsockname + its own timers)"
            conns.append((c["connect_start_us"], c, reqs_by_conn.get(c["local_id"], [])))

    # Server-side checks of client-observed HTTP requests, and the proxy's upstream connections.
    logs_by_server = {(pods_by_ip[e["server_addr"]]["name"], e["server_port"]): [] for e in fe_log + api_log}
    for e in fe_log + api_log:
        logs_by_server[(pods_by_ip[e["server_addr"]]["name"], e["server_port"])].append(e)
    by_xid = {}
    for e in fe_log + api_log:
        if e["x_request_id"]:
            by_xid.setdefault(e["x_request_id"], []).append(e)

    for _key, c, reqs in conns:
        for r in reqs:
            if r["protocol"] != "http":
                continue
            seen = [e for e in by_xid.get(r["x_request_id"], []) if e["remote_addr"] == c["client_ip"]]
            if len(seen) != 1:
                die(f"request {r['x_request_id']} found {len(seen)} times in the server's access log")
            e = seen[0]
            if e["remote_port"] != c["client_port"] or e["status"] != r["status"] or e["path"] != r["resource"]:
                die(f"request {r['x_request_id']}: client saw {c['client_port']} {r['resource']} {r['status']}, "
                    f"server logged {e['remote_port']} {e['path']} {e['status']}")

    # nginx (frontend) proxies /api/... to the api ClusterIP, one upstream connection per request.
    fe_pod = topo["pods"][[p["name"] for p in topo["pods"]].index("frontend")]
    for e in api_log:
        if e["remote_addr"] != fe_pod["ip"]:
            continue
        parent = [f for f in fe_log if f["x_request_id"] == e["x_request_id"] and f["upstream_addr"]]
        if len(parent) != 1:
            die(f"proxied request {e['x_request_id']} has {len(parent)} parents in the frontend log")
        up_ip, up_port = parent[0]["upstream_addr"].rsplit(":", 1)
        if e["connection_requests"] != "1":
            die("nginx reused an upstream connection; the sample expects one connection per proxied request")
        c = {"local_id": f"frontend-proxy-{e['x_request_id']}", "transport": "tcp", "l7": "http",
             "purpose": "proxy-upstream", "client_pod": "frontend",
             "client_ip": e["remote_addr"], "client_port": e["remote_port"],
             "server_ip": up_ip, "server_port": int(up_port), "refused": False, "requests": 1,
             "connect_start_us": e["start_us"], "connect_end_us": None, "close_us": None,
             # proxy_http_version 1.0 without keepalive: the upstream server closes after its response.
             "fin_first": "server",
             "observed_by": "server log (nginx access logs of frontend and api; ms resolution)",
             "time_resolution_us": 1000}
        r = {"protocol": "http", "version": e["version"], "method": e["method"], "resource": e["path"],
             "host": None, "status": e["status"], "code": e["status"], "error_class": error_class_http(e["status"]),
             "start_us": e["start_us"], "first_byte_us": None, "end_us": e["end_us"], "pipelined": False,
             "x_request_id": e["x_request_id"], "traceparent": e["traceparent"] or None,
             "connection_close": True, "index_on_connection": 0, "time_resolution_us": 1000,
             "parent_x_request_id": e["x_request_id"]}
        conns.append((c["connect_start_us"], c, [r]))

    conns.sort(key=lambda t: t[0])
    out_conns, out_reqs, dns_queries = [], [], []
    req_id_by_xid = {}
    for i, (_key, c, reqs) in enumerate(conns, start=1):
        cid = f"c{i:02d}"
        server_pod, bip, bport, svc, dnat = net.backend(c["server_ip"], c["server_port"])
        hops = net.hops(c["client_pod"], c["client_ip"], c["client_port"], c["server_ip"], c["server_port"])
        client_node = net.pods[c["client_pod"]]["node"]
        conn = {
            "id": cid, "transport": c["transport"], "l7": None if c["l7"] == "none" else c["l7"],
            "purpose": c["purpose"], "client_pod": c["client_pod"], "client_node": client_node,
            "server_pod": server_pod["name"], "server_node": server_pod["node"], "service": svc,
            "client_ip": c["client_ip"], "client_port": c["client_port"],
            "server_ip": c["server_ip"], "server_port": c["server_port"],
            "backend_ip": bip, "backend_port": bport, "dnat": dnat,
            "cross_node": client_node != server_pod["node"], "refused": c["refused"],
            "requests": len(reqs), "connect_start_us": c["connect_start_us"],
            "connect_end_us": c["connect_end_us"], "close_us": c["close_us"], "fin_first": c["fin_first"],
            "retransmissions": "> 0" if c.get("retransmissions_expected") else "none induced",
            "observed_by": c["observed_by"], "hops": hops,
        }
        if c.get("segments_dropped_by_rule") is not None:
            conn["segments_dropped_by_rule"] = c["segments_dropped_by_rule"]
        if c.get("time_resolution_us"):
            conn["time_resolution_us"] = c["time_resolution_us"]
        if c.get("pg_startup"):
            conn["pg_startup"] = c["pg_startup"]
        if len(reqs) != c["requests"]:
            die(f"{c['local_id']}: {len(reqs)} requests recorded, counter says {c['requests']}")
        out_conns.append(conn)
        for r in sorted(reqs, key=lambda r: r["index_on_connection"]):
            rid = f"r{len(out_reqs) + 1:03d}"
            r = {k: v for k, v in r.items() if k != "connection"}
            req = {"id": rid, "connection": cid, **r}
            out_reqs.append(req)
            if r["protocol"] == "http" and c["purpose"] != "proxy-upstream":
                req_id_by_xid[r["x_request_id"]] = rid
            if r["protocol"] == "dns":
                dns_queries.append({"request": rid, "connection": cid, "client_pod": c["client_pod"],
                                    "server_pod": server_pod["name"], "qname": r["resource"], "qtype": r["method"],
                                    "transaction_id": r["transaction_id"], "rcode": r["code"],
                                    "rcode_name": r["status"], "error_class": r["error_class"],
                                    "answers": [a["value"] for a in r["answers"]]})

    # Link proxied requests to the request that caused them (same X-Request-ID, passed through by nginx).
    for req in out_reqs:
        xid = req.pop("parent_x_request_id", None)
        if xid:
            parent = req_id_by_xid[xid]
            req["parent_request"] = parent
            preq = next(r for r in out_reqs if r["id"] == parent)
            preq.setdefault("child_requests", []).append(req["id"])

    expected = summarise(topology, out_conns, out_reqs)
    files = describe_files(topology)
    versions = dict(v.split("=", 1) for v in args.versions)
    truth = {
        "schema": SCHEMA,
        "about": "Ground truth of samples/k8s-*.pcap*, written by samples/generate.sh from the clients' own "
                 "records and the topology it built (never from the captures). See samples/README.md.",
        "generator": {"script": "samples/generate.sh", "versions": versions},
        "capture_window": {"start_us": args.capture_start_us, "end_us": args.capture_end_us},
        "files": files,
        "topology": topology,
        "connections": out_conns,
        "requests": out_reqs,
        "dns_queries": dns_queries,
        "expected": expected,
    }
    check(truth)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print(f"build_truth: {len(out_conns)} connections, {len(out_reqs)} requests -> {args.out}")


def summarise(topology, conns, reqs):
    per_iface = {}
    for n in topology["nodes"]:
        for i in n["interfaces"]:
            per_iface[(n["name"], i["name"])] = {
                "node": n["name"], "interface": i["name"], "ifindex": i["ifindex"], "kind": i["kind"],
                "tcp_connections": 0, "tcp_refused": 0, "udp_flows": 0, "requests": 0,
                "requests_by_protocol": {}, "vxlan_encapsulated_flows": 0}
    reqs_by_conn = {}
    for r in reqs:
        reqs_by_conn.setdefault(r["connection"], []).append(r)
    for c in conns:
        for h in c["hops"]:
            e = per_iface[(h["node"], h["interface"])]
            if c["transport"] == "tcp":
                e["tcp_connections"] += 1
                e["tcp_refused"] += 1 if c["refused"] else 0
            else:
                e["udp_flows"] += 1
            if h["encap"]:
                e["vxlan_encapsulated_flows"] += 1
            for r in reqs_by_conn.get(c["id"], []):
                e["requests"] += 1
                e["requests_by_protocol"][r["protocol"]] = e["requests_by_protocol"].get(r["protocol"], 0) + 1

    edges = {}
    for c in conns:
        key = (c["client_pod"], c["server_pod"], c["l7"] or "tcp", c["backend_port"])
        e = edges.setdefault(key, {"client": c["client_pod"], "server": c["server_pod"], "service": c["service"],
                                   "protocol": c["l7"] or "tcp", "transport": c["transport"],
                                   "port": c["backend_port"], "connections": 0, "refused": 0, "requests": 0,
                                   "errors": 0, "client_errors": 0, "server_errors": 0,
                                   "cross_node": c["cross_node"]})
        e["connections"] += 1
        e["refused"] += 1 if c["refused"] else 0
        for r in reqs_by_conn.get(c["id"], []):
            e["requests"] += 1
            if r["error_class"] != "ok":
                e["errors"] += 1
                e["client_errors" if r["error_class"] == "client_error" else "server_errors"] += 1
    by_proto = {}
    for r in reqs:
        p = by_proto.setdefault(r["protocol"], {"requests": 0, "ok": 0, "client_error": 0, "server_error": 0})
        p["requests"] += 1
        p[r["error_class"]] += 1
    return {
        "per_interface": list(per_iface.values()),
        "per_edge": sorted(edges.values(), key=lambda e: (e["client"], e["server"], e["protocol"], e["port"])),
        "per_protocol": by_proto,
        "totals": {"connections": len(conns), "tcp_connections": sum(c["transport"] == "tcp" for c in conns),
                   "tcp_refused": sum(c["refused"] for c in conns),
                   "udp_flows": sum(c["transport"] == "udp" for c in conns),
                   "requests": len(reqs), "cross_node_connections": sum(c["cross_node"] for c in conns),
                   "connections_with_induced_retransmissions":
                       sum(c["retransmissions"] == "> 0" for c in conns)},
    }


def describe_files(topology):
    files = []
    merged_ifaces = []
    for n in topology["nodes"]:
        # dumpcap writes one IDB per -i in the order given; generate.sh passes pods in topology.json order
        pod_order = [p["host_veth"] for p in topology["pods"] if p["node"] == n["name"]]
        names = ["eth0", "vxlan0", "cni0"] + pod_order
        files.append({"file": f"k8s-{n['name']}.any.pcap", "node": n["name"], "format": "pcap",
                      "link_type": 276, "link_type_name": "LINUX_SLL2",
                      "tool": "tcpdump -i any -y LINUX_SLL2 -s 0 (in the node namespace)",
                      "interfaces": "all of the node's interfaces; SLL2 ifindex -> topology.nodes[].interfaces[]"})
        files.append({"file": f"k8s-{n['name']}.pcapng", "node": n["name"], "format": "pcapng",
                      "link_type": 1, "link_type_name": "EN10MB",
                      "tool": "dumpcap -i " + " -i ".join(names),
                      "interfaces": [{"id": k, "node": n["name"], "name": name} for k, name in enumerate(names)]})
        merged_ifaces += [{"node": n["name"], "name": name} for name in names]
    files.append({"file": "k8s-both.pcapng", "node": None, "format": "pcapng", "link_type": 1,
                  "link_type_name": "EN10MB", "tool": "mergecap -I none k8s-node1.pcapng k8s-node2.pcapng",
                  "interfaces": [{"id": k, **i} for k, i in enumerate(merged_ifaces)],
                  "note": "interface names repeat (eth0 on both nodes): tell them apart by interface id"})
    return files


def check(truth):
    """Internal consistency of what is about to be written."""
    conns = {c["id"]: c for c in truth["connections"]}
    for r in truth["requests"]:
        if r["connection"] not in conns:
            die(f"{r['id']} refers to unknown {r['connection']}")
        if r["end_us"] < r["start_us"]:
            die(f"{r['id']} ends before it starts")
        if not (truth["capture_window"]["start_us"] <= r["start_us"] <= truth["capture_window"]["end_us"]):
            die(f"{r['id']} is outside the capture window")
    for c in truth["connections"]:
        if c["refused"] and c["requests"]:
            die(f"{c['id']} refused but has requests")
        ipaddress.ip_address(c["client_ip"])
        if len({(h["node"], h["interface"]) for h in c["hops"]}) != len(c["hops"]):
            die(f"{c['id']} crosses an interface twice")
    edges_req = sum(e["requests"] for e in truth["expected"]["per_edge"])
    if edges_req != len(truth["requests"]):
        die("per-edge request counts do not add up")


if __name__ == "__main__":
    main()
