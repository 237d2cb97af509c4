#!/usr/bin/env bash
# Re-makes samples/l7/redis/redis.pcap and redis.truth.json: a throwaway redis-server on 127.0.0.1:6390
# (loopback only), a python client speaking RESP3 and RESP2 (client.py: HELLO 3, map/set/double/null/
# verbatim/big-number/boolean/attribute replies, errors, a pipeline, a 5000-byte value, AUTH refused,
# pub/sub on a RESP3 and a RESP2 connection), captured with tcpdump. Needs root and redis-server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=6390
work=$(mktemp -d /tmp/fs-redis.XXXXXX)
cleanup() {
  [ -n "${tcpd:-}" ] && kill "$tcpd" 2>/dev/null || true
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
redis-server --bind 127.0.0.1 --port $port --save '' --appendonly no --enable-debug-command yes \
  --dir "$work" --daemonize no > "$work/redis.log" 2>&1 &
srv=$!
for _ in $(seq 50); do redis-cli -p $port ping > /dev/null 2>&1 && break; sleep 0.1; done
tcpdump -i lo -s 0 -U -w "$work/redis.pcap" "tcp port $port" 2> "$work/tcpdump.log" &
tcpd=$!
sleep 1
python3 "$here/client.py" $port > "$work/truth.json"
sleep 0.5
kill "$tcpd"; wait "$tcpd" 2>/dev/null || true; tcpd=
cp "$work/redis.pcap" "$here/redis.pcap"
cp "$work/truth.json" "$here/redis.truth.json"
echo "wrote $here/redis.pcap ($(stat -c %s "$here/redis.pcap") bytes) and redis.truth.json"
