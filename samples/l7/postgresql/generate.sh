#!/usr/bin/env bash
# Re-makes postgresql.pcap and postgresql.truth.json: Debian's PostgreSQL server in a network namespace of
# its own (trust auth on 127.0.0.1), driven by client.py (simple and extended protocol, pipelined batches,
# errors, an SSLRequest refused; then ssl is turned on with a throw-away certificate and one connection
# runs over TLS), captured
# with tcpdump on the namespace's loopback. Run as root: sudo bash samples/l7/postgresql/generate.sh
# Needs: postgresql, openssl, tcpdump, iproute2, python3.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=fs-pg
WORK=$(mktemp -d /tmp/fs-pg.XXXXXX)
PORT=5432
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cleanup() {
  set +e
  [ -n "${DUMP:-}" ] && kill "$DUMP" 2>/dev/null && wait "$DUMP" 2>/dev/null
  [ -f "$WORK/data/postmaster.pid" ] && kill -INT "$(head -1 "$WORK/data/postmaster.pid")" 2>/dev/null && wait "${DB:-}" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  [ -n "${FS_KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

chown postgres "$WORK"
runuser -u postgres -- "$BIN/initdb" -D "$WORK/data" -A trust -U app >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/data/server.key" \
  -out "$WORK/data/server.crt" -days 3650 -subj /CN=db.example.test 2>/dev/null
chown postgres "$WORK/data/server.key" "$WORK/data/server.crt"
chmod 600 "$WORK/data/server.key"
ip netns exec "$NS" runuser -u postgres -- "$BIN/postgres" -D "$WORK/data" -k "$WORK" -h 127.0.0.1 -p $PORT \
  -c logging_collector=off >"$WORK/pg.log" 2>&1 &
DB=$!
for _ in $(seq 100); do runuser -u postgres -- "$BIN/pg_isready" -q -h "$WORK" -p $PORT && break; sleep 0.2; done
runuser -u postgres -- "$BIN/createdb" -h "$WORK" -p $PORT -U app shop

ip netns exec "$NS" tcpdump -Z root --immediate-mode -i lo -s 0 -U -w "$WORK/postgresql.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
DUMP=$!
sleep 1
mkfifo "$WORK/go"
ip netns exec "$NS" python3 "$HERE/client.py" 127.0.0.1 $PORT app shop "$WORK/client.json" <"$WORK/go" &
CLIENT=$!
exec 3>"$WORK/go"
sleep 2
# The first connection is done when the client waits on its input: turn ssl on for the second.
printf "ssl = on\n" >>"$WORK/data/postgresql.conf"
kill -HUP "$(head -1 "$WORK/data/postmaster.pid")"
sleep 1
echo go >&3
exec 3>&-
wait "$CLIENT"
sleep 0.5
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true; DUMP=
python3 - "$WORK/client.json" "$HERE/postgresql.truth.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
json.dump({'about': 'PostgreSQL (Debian) in a netns, driven by client.py; every Query / Sync-terminated batch as the client sent it and the answer it parsed',
           'generator': 'samples/l7/postgresql/generate.sh', 'capture': 'postgresql.pcap (tcpdump -i lo in the namespace, port 5432)',
           **c}, open(sys.argv[2], 'w'), indent=1)
PY
cp "$WORK/postgresql.pcap" "$HERE/postgresql.pcap"
echo "wrote $HERE/postgresql.pcap ($(stat -c %s "$HERE/postgresql.pcap") bytes) and postgresql.truth.json"
