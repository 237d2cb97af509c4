#!/usr/bin/env bash
# Re-makes http2.pcap and http2.truth.json: workload.mjs (Node http2 server + client over h2c with prior
# knowledge, a padded connection, and a @grpc/grpc-js server + client) on the loopback of a network
# namespace of its own, captured with tcpdump. Run as root from anywhere:
#   bash samples/l7/http2/generate.sh
# Needs: node (with the repo's node_modules: @grpc/grpc-js, @grpc/proto-loader), tcpdump, iproute2.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=fs-l7-http2
WORK=$(mktemp -d /tmp/fs-l7-http2.XXXXXX)
DUMP=
cleanup() {
  set +e
  [ -n "$DUMP" ] && kill "$DUMP" 2>/dev/null && wait "$DUMP" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
# Loopback MTU 1500 and offloads off: segments as a wire would carry them (bodies span segments).
ip netns exec "$NS" ip link set lo mtu 1500 up
ip netns exec "$NS" ethtool -K lo tso off gso off gro off tx off >/dev/null 2>&1 || true
ip netns exec "$NS" tcpdump -Z root -i lo -s 0 -U -w "$WORK/http2.pcap" 'tcp port 8081 or tcp port 8082 or tcp port 50051' 2>"$WORK/tcpdump.log" &
DUMP=$!
sleep 1
ip netns exec "$NS" node "$HERE/workload.mjs" "$WORK/http2.truth.json"
sleep 0.5
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true
DUMP=
cp "$WORK/http2.pcap" "$WORK/http2.truth.json" "$HERE/"
echo "wrote $HERE/http2.pcap ($(stat -c %s "$HERE/http2.pcap") bytes) and http2.truth.json"
