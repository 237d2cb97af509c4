#!/bin/sh
# Re-makes amqp.pcap and amqp.truth.json: RabbitMQ in a network namespace (loopback MTU 1500), driven by
# client.py (a minimal AMQP 0-9-1 client), captured with tcpdump. RabbitMQ takes ~10-30 s to start.
# Needs: rabbitmq-server, tcpdump, python3, iproute2; root.
set -eu
PCAP=amqp.pcap
cd "$(dirname "$0")"
NS=fs-amqp-gen
ip netns del $NS 2>/dev/null || true
ip netns add $NS
TD=
trap 'kill $TD 2>/dev/null || true; ip netns exec $NS rabbitmqctl -n rabbit@localhost stop >/dev/null 2>&1 || true; sleep 1; ip netns pids $NS | xargs -r kill 2>/dev/null || true; sleep 0.5; ip netns del $NS 2>/dev/null || true' EXIT
ip netns exec $NS ip link set lo mtu 1500 up
ip netns exec $NS env RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=rabbit@localhost rabbitmq-server >/dev/null 2>&1 &
# await_startup fails while the node is not reachable yet: retry for up to 3 minutes.
for i in $(seq 1 60); do
  if ip netns exec $NS rabbitmqctl -n rabbit@localhost await_startup --timeout 30 >/dev/null 2>&1; then break; fi
  sleep 3
done
ip netns exec $NS tcpdump -i lo -w amqp.pcap -s 0 -U 'tcp port 5672' 2>/dev/null &
TD=$!
sleep 1
ip netns exec $NS python3 client.py 127.0.0.1 5672 amqp.truth.json
# tcpdump may lag behind on a busy machine: stop it only once the capture has stopped growing.
last=-1
while [ "$(stat -c %s "$PCAP")" != "$last" ]; do last=$(stat -c %s "$PCAP"); sleep 1; done
kill -INT $TD; wait $TD 2>/dev/null || true
ls -l amqp.pcap
