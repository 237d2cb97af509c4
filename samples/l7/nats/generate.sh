#!/bin/sh
# Re-makes nats.pcap and nats.truth.json: two nats-servers in a network namespace (one pinging every
# second, one requiring a password), driven by client.py, captured with tcpdump (loopback MTU 1500).
# Needs: nats-server, tcpdump, python3, iproute2; root.
set -eu
PCAP=nats.pcap
cd "$(dirname "$0")"
NS=fs-nats-gen
ip netns del $NS 2>/dev/null || true
ip netns add $NS
CONF=$(mktemp)
printf 'listen: 127.0.0.1:4222\nping_interval: "1s"\nserver_name: flowscope-nats\n' > "$CONF"
trap 'kill $TD $A $B 2>/dev/null || true; sleep 0.3; ip netns del $NS 2>/dev/null || true; rm -f "$CONF"' EXIT
ip netns exec $NS ip link set lo mtu 1500 up
ip netns exec $NS tcpdump -i lo -w nats.pcap -s 0 -U 'tcp port 4222 or tcp port 4223' 2>/tmp/nats-tcpdump.err &
TD=$!
ip netns exec $NS nats-server -c "$CONF" &
A=$!
ip netns exec $NS nats-server -a 127.0.0.1 -p 4223 --user app --pass secret &
B=$!
sleep 1
ip netns exec $NS python3 client.py 127.0.0.1 4222 4223 nats.truth.json
# tcpdump may lag behind on a busy machine: stop it only once the capture has stopped growing.
last=-1
while [ "$(stat -c %s "$PCAP")" != "$last" ]; do last=$(stat -c %s "$PCAP"); sleep 1; done
kill -INT $TD; wait $TD 2>/dev/null || true
ls -l nats.pcap
