#!/usr/bin/env bash
# Re-makes samples/l7/mqtt/mqtt.pcap and mqtt.truth.json: Debian's mosquitto on 127.0.0.1:1884 (loopback
# only) with one user (alice/secret, anonymous refused), driven by client.py (MQTT 3.1, 3.1.1 and 5
# clients; refused CONNECTs with a bad password; SUBSCRIBE, QoS 0/1/2 PUBLISH both ways, UNSUBSCRIBE,
# PINGREQ, DISCONNECT), captured with tcpdump. Needs root, mosquitto (apt-get install -y mosquitto).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=1884
work=$(mktemp -d /tmp/fs-mqtt.XXXXXX)
cleanup() {
  [ -n "${tcpd:-}" ] && kill "$tcpd" 2>/dev/null || true
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"
touch "$work/passwd"
mosquitto_passwd -b "$work/passwd" alice secret
chmod 0644 "$work/passwd"
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous false
password_file $work/passwd
persistence false
CONF
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
srv=$!
sleep 1
tcpdump -i lo -s 0 -U -w "$work/mqtt.pcap" "tcp port $port" 2> "$work/tcpdump.log" &
tcpd=$!
sleep 1
python3 "$here/client.py" $port > "$work/truth.json"
sleep 0.5
kill "$tcpd"; wait "$tcpd" 2>/dev/null || true; tcpd=
cp "$work/mqtt.pcap" "$here/mqtt.pcap"
cp "$work/truth.json" "$here/mqtt.truth.json"
echo "wrote $here/mqtt.pcap ($(stat -c %s "$here/mqtt.pcap") bytes) and mqtt.truth.json"
