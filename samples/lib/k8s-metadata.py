#!/usr/bin/env python3
"""Writes samples/k8s.metadata.json: what `kubectl get pods,services,endpoints,nodes -o json` would print
for the cluster generate.sh built, from the topology in k8s.truth.json.

The output has kubectl's real shape (apiVersion v1, kind List, items of kind Pod, Service, Endpoints and
Node; keys sorted and 4-space indent, as kubectl prints unstructured objects) so the auto-tagger reads it
exactly as it would read a dump from a real cluster.

What the truth does not say is fixed here, deterministically (same truth -> same bytes):
- every pod is the single replica of a workload named like the pod: redis and db are StatefulSets (their
  DNS records are redis-0.redis... and db-0.db...), the others Deployments, owned through a ReplicaSet
  `<workload>-<pod-template-hash>` as the Deployment controller names them;
- pods carry `app: <pod>` (the dns pod `k8s-app: kube-dns`, as CoreDNS does) and services select on it;
- the `kubernetes` service of every cluster, 10.96.0.1, whose endpoint (the API server, host network)
  is node1's address and has no targetRef;
- creation times one hour before the capture window, uids from uuid5(cluster, kind/namespace/name).

    python3 samples/lib/k8s-metadata.py --truth samples/k8s.truth.json --out samples/k8s.metadata.json
"""

import argparse
import hashlib
import json
import sys
import uuid
from datetime import datetime, timezone

# The alphabet of Kubernetes' rand.SafeEncodeString (no vowels, no 0/1/3 look-alikes).
SAFE = "bcdfghjklmnpqrstvwxz2456789"
STATEFULSETS = {"redis", "db"}
API_SERVICE_IP = "10.96.0.1"


def safe_hash(text, n):
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(SAFE[b % len(SAFE)] for b in digest[:n])


def ts(us):
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--truth", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.truth) as f:
        truth = json.load(f)
    topo = truth["topology"]
    cluster = topo["cluster"]["name"]
    created = ts(truth["capture_window"]["start_us"] - 3600 * 1_000_000)
    started = ts(truth["capture_window"]["start_us"] - 3000 * 1_000_000)
    node_ip = {n["name"]: n["underlay_ip"] for n in topo["nodes"]}

    def uid(kind, ns, name):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowscope:{cluster}/{kind}/{ns}/{name}"))

    def meta(kind, name, ns=None, labels=None, owners=None, extra=None):
        m = {"creationTimestamp": created, "name": name, "resourceVersion": str(1000 + len(items)),
             "uid": uid(kind, ns or "", name)}
        if ns is not None:
            m["namespace"] = ns
        if labels:
            m["labels"] = labels
        if owners:
            m["ownerReferences"] = owners
        if extra:
            m.update(extra)
        return m

    items = []
    pod_labels = {}

    # ---- pods
    for p in topo["pods"]:
        name, ns = p["name"], p["namespace"]
        labels = {"k8s-app": "kube-dns"} if name == "dns" else {"app": name}
        if name in STATEFULSETS:
            rev = f"{name}-{safe_hash('rev/' + name, 10)}"
            labels.update({"controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": name})
            owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name}
        else:
            h = safe_hash("rs/" + name, 10)
            labels["pod-template-hash"] = h
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-{h}"}
        owner.update({"blockOwnerDeletion": True, "controller": True,
                      "uid": uid(owner["kind"], ns, owner["name"])})
        pod_labels[name] = labels
        ports = []
        for s in topo["services"]:
            if s["pod"] == name:
                ports += [{"containerPort": x["target_port"], "name": x["name"], "protocol": x["protocol"]}
                          for x in s["ports"]]
        container = {"image": p["app"].split(" ")[0] + ":fs", "imagePullPolicy": "IfNotPresent", "name": name}
        if ports:
            container["ports"] = ports
        host = node_ip[p["node"]]
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": meta("Pod", name, ns, labels, [owner]),
            "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "nodeName": p["node"],
                     "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default"},
            "status": {
                "conditions": [{"lastProbeTime": None, "lastTransitionTime": started, "status": "True", "type": t}
                               for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                "containerStatuses": [{"image": container["image"], "name": name, "ready": True,
                                       "restartCount": 0, "started": True,
                                       "state": {"running": {"startedAt": started}}}],
                "hostIP": host, "hostIPs": [{"ip": host}],
                "phase": "Running", "podIP": p["ip"], "podIPs": [{"ip": p["ip"]}],
                "qosClass": "BestEffort", "startTime": started,
            },
        })

    # ---- services (the cluster's own `kubernetes` service first, as kubectl lists by namespace/name)
    pods_by_name = {p["name"]: p for p in topo["pods"]}
    services = [{"name": "kubernetes", "namespace": "default", "type": "ClusterIP", "ip": API_SERVICE_IP,
                 "pod": None, "ports": [{"name": "https", "protocol": "TCP", "port": 443, "target_port": 6443}]}]
    services += topo["services"]
    services.sort(key=lambda s: (s["namespace"], s["name"]))
    for s in services:
        name, ns = s["name"], s["namespace"]
        headless = s["type"] == "Headless"
        cluster_ip = "None" if headless else s["ip"]
        spec = {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{"name": x["name"], "port": x["port"], "protocol": x["protocol"],
                           "targetPort": x["target_port"]} for x in s["ports"]],
                "sessionAffinity": "None", "type": "ClusterIP"}
        labels = {"component": "apiserver", "provider": "kubernetes"} if s["pod"] is None else {"app": name}
        if s["pod"] is not None:
            pl = pod_labels[s["pod"]]
            spec["selector"] = {"k8s-app": pl["k8s-app"]} if "k8s-app" in pl else {"app": pl["app"]}
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("Service", name, ns, labels),
                      "spec": spec, "status": {"loadBalancer": {}}})

    # ---- endpoints
    for s in services:
        name, ns = s["name"], s["namespace"]
        if s["pod"] is None:  # the API server runs on node1's host network: no pod behind it
            address = {"ip": node_ip[topo["nodes"][0]["name"]]}
        else:
            p = pods_by_name[s["pod"]]
            address = {"ip": p["ip"], "nodeName": p["node"],
                       "targetRef": {"kind": "Pod", "name": p["name"], "namespace": p["namespace"],
                                     "uid": uid("Pod", p["namespace"], p["name"])}}
        ports = [{"name": x["name"], "port": x["target_port"], "protocol": x["protocol"]} for x in s["ports"]]
        labels = {"endpointslice.kubernetes.io/skip-mirror": "true"} if s["pod"] is None else {"app": name}
        items.append({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta("Endpoints", name, ns, labels),
                      "subsets": [{"addresses": [address], "ports": ports}]})

    # ---- nodes
    for i, n in enumerate(topo["nodes"]):
        name = n["name"]
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if i == 0:
            labels["node-role.kubernetes.io/control-plane"] = ""
        items.append({
            "apiVersion": "v1", "kind": "Node", "metadata": meta("Node", name, None, labels),
            "spec": {"podCIDR": n["pod_cidr"], "podCIDRs": [n["pod_cidr"]]},
            "status": {"addresses": [{"address": n["underlay_ip"], "type": "InternalIP"},
                                     {"address": name, "type": "Hostname"}],
                       "conditions": [{"lastHeartbeatTime": started, "lastTransitionTime": created,
                                       "message": "kubelet is posting ready status", "reason": "KubeletReady",
                                       "status": "True", "type": "Ready"}],
                       "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.0",
                                    "kernelVersion": truth["generator"]["versions"].get("kernel", ""),
                                    "kubeletVersion": "v1.30.0", "operatingSystem": "linux"}},
        })

    doc = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=4, sort_keys=True)
        f.write("\n")
    print(f"k8s-metadata: wrote {args.out} ({len(items)} items)", file=sys.stderr)


if __name__ == "__main__":
    main()
