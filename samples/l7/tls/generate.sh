#!/usr/bin/env bash
# Re-makes tls.pcap and tls.truth.json: a Node TLS server and clients (workload.mjs) in a network namespace
# of their own, certificates made here with openssl (a CA the clients trust, another they do not),
# captured with tcpdump on the namespace's loopback. Run as root: sudo bash samples/l7/tls/generate.sh
# Needs: node, openssl, tcpdump, iproute2.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=fs-tls
WORK=$(mktemp -d /tmp/fs-tls.XXXXXX)
cleanup() {
  set +e
  [ -n "${DUMP:-}" ] && kill "$DUMP" 2>/dev/null && wait "$DUMP" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=flowscope-test-ca 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.crt -days 3650 -subj /CN=untrusted-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=api.example.test 2>/dev/null
printf 'subjectAltName=DNS:api.example.test,DNS:www.example.test\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 3650 -extfile ext.cnf 2>/dev/null

ip netns exec "$NS" tcpdump -Z root --immediate-mode -i lo -s 0 -U -w "$WORK/tls.pcap" "tcp port 8443" 2>/dev/null &
DUMP=$!
sleep 1
ip netns exec "$NS" node "$HERE/workload.mjs" "$WORK" "$WORK/client.json"
sleep 0.5
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true; DUMP=
python3 - "$WORK/client.json" "$HERE/tls.truth.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
json.dump({'about': 'Node TLS server and clients in a netns; each handshake as the client offered and saw it',
           'generator': 'samples/l7/tls/generate.sh', 'capture': 'tls.pcap (tcpdump -i lo in the namespace, port 8443)',
           **c}, open(sys.argv[2], 'w'), indent=1)
PY
cp "$WORK/tls.pcap" "$HERE/tls.pcap"
echo "wrote $HERE/tls.pcap ($(stat -c %s "$HERE/tls.pcap") bytes) and tls.truth.json"
