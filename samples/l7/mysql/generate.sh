#!/usr/bin/env bash
# Re-makes mysql.pcap and mysql.truth.json: Debian's MariaDB server in a network namespace of its own,
# driven by client.py (a hand-written protocol client, so the capture holds exactly the commands listed
# in the truth), captured with tcpdump on the namespace's loopback. Run as root:
#   sudo bash samples/l7/mysql/generate.sh
# Needs: mariadb-server mariadb-client tcpdump iproute2 python3 (installed with apt-get if missing).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=fs-mysql
WORK=$(mktemp -d /tmp/fs-mysql.XXXXXX)
PORT=3306

command -v mariadbd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client; }
command -v tcpdump >/dev/null || { apt-get update -qq && apt-get install -y -qq tcpdump; }

cleanup() {
  set +e
  [ -n "${DUMP:-}" ] && kill "$DUMP" 2>/dev/null && wait "$DUMP" 2>/dev/null
  [ -n "${DB:-}" ] && kill "$DB" 2>/dev/null && wait "$DB" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

mariadb-install-db --user=root --datadir="$WORK/data" --auth-root-authentication-method=socket >/dev/null
ip netns exec "$NS" mariadbd --no-defaults --user=root --datadir="$WORK/data" --socket="$WORK/sock" \
  --port=$PORT --bind-address=127.0.0.1 --skip-name-resolve --log-error="$WORK/err.log" --pid-file="$WORK/pid" &
DB=$!
for _ in $(seq 100); do [ -S "$WORK/sock" ] && break; sleep 0.1; done
mariadb --socket="$WORK/sock" -u root -e "CREATE DATABASE shop; CREATE USER 'app'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('s3cret'); GRANT ALL ON shop.* TO 'app'@'127.0.0.1';"

ip netns exec "$NS" tcpdump -Z root --immediate-mode -i lo -s 0 -U -w "$WORK/mysql.pcap" "tcp port $PORT" 2>/dev/null &
DUMP=$!
sleep 1
ip netns exec "$NS" python3 "$HERE/client.py" 127.0.0.1 $PORT app s3cret "$WORK/client.json"
sleep 0.5
kill "$DUMP"; wait "$DUMP" 2>/dev/null || true; DUMP=

python3 - "$WORK/client.json" "$HERE/mysql.truth.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
truth = {
  'about': 'MariaDB (Debian mariadb-server) in a netns, driven by client.py; every command as the client sent it and the reply it parsed',
  'generator': 'samples/l7/mysql/generate.sh',
  'capture': 'mysql.pcap (tcpdump -i lo in the namespace, port 3306)',
  **c,
}
json.dump(truth, open(sys.argv[2], 'w'), indent=1)
EOF
cp "$WORK/mysql.pcap" "$HERE/mysql.pcap"
echo "wrote $HERE/mysql.pcap ($(stat -c %s "$HERE/mysql.pcap") bytes) and mysql.truth.json"
