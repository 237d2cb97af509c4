"""Reads topology.json (the one description of the sample cluster) and prints it in forms bash can loop over.

generate.sh builds the namespaces from these lines and build_truth.py reads the same JSON, so the
topology in the ground truth is the one that was built.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    with open(os.path.join(HERE, "topology.json"), encoding="utf-8") as f:
        topo = json.load(f)
    prefix = topo["cluster"]["netns_prefix"]
    for pod in topo["pods"]:
        pod["netns"] = f"{prefix}pod-{pod['name']}"
    return topo


def node_of(topo, name):
    return next(n for n in topo["nodes"] if n["name"] == name)


def pod_by_name(topo, name):
    return next(p for p in topo["pods"] if p["name"] == name)


def main(argv):
    topo = load()
    what = argv[1] if len(argv) > 1 else ""
    if what == "nodes":
        for n in topo["nodes"]:
            print(n["name"], n["netns"], n["underlay_ip"], n["underlay_mac"], n["pod_cidr"],
                  n["bridge_ip"], n["bridge_mac"], n["vxlan_ip"], n["vxlan_mac"])
    elif what == "pods":
        for p in topo["pods"]:
            n = node_of(topo, p["node"])
            print(p["name"], p["node"], n["netns"], p["netns"], p["ip"], p["mac"], p["veth"], p["veth_mac"],
                  n["bridge_ip"])
    elif what == "dnat":
        # kube-proxy style DNAT rules: ClusterIP:port -> pod IP:target port
        for s in topo["services"]:
            if s["type"] != "ClusterIP":
                continue
            pod = pod_by_name(topo, s["pod"])
            for port in s["ports"]:
                print(s["ip"], port["port"], port["protocol"].lower(), pod["ip"], port["target_port"])
    elif what == "dns-records":
        for r in topo["dns_records"]:
            print(r["name"], r["value"])
    elif what == "get":
        value = topo["cluster"]
        for key in argv[2].split("."):
            value = value[key]
        print(value)
    elif what == "pod-netns":
        print(pod_by_name(topo, argv[2])["netns"])
    elif what == "pod-ip":
        print(pod_by_name(topo, argv[2])["ip"])
    elif what == "service-ip":
        print(next(s for s in topo["services"] if s["name"] == argv[2])["ip"])
    else:
        sys.exit(f"topology.py: unknown query {what!r} (nodes|pods|dnat|dns-records|get KEY|pod-netns NAME|pod-ip NAME|service-ip NAME)")


if __name__ == "__main__":
    main(sys.argv)
