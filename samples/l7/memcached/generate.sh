#!/bin/sh
# Re-makes memcached.pcap and memcached.truth.json: memcached in a network namespace (loopback MTU 1500
# so that large values span segments, -I 4k so that a 5000-byte value is refused with SERVER_ERROR),
# driven by client.py over the text and the binary protocol, captured with tcpdump.
# Needs: memcached, tcpdump, python3, iproute2; root.
set -eu
PCAP=memcached.pcap
cd "$(dirname "$0")"
NS=fs-memcached-gen
ip netns del $NS 2>/dev/null || true
ip netns add $NS
trap 'kill $TD $MC 2>/dev/null || true; sleep 0.3; ip netns del $NS 2>/dev/null || true' EXIT
ip netns exec $NS ip link set lo mtu 1500 up
ip netns exec $NS tcpdump -i lo -w memcached.pcap -s 0 -U 'tcp port 11211' 2>/dev/null &
TD=$!
ip netns exec $NS memcached -u nobody -l 127.0.0.1 -p 11211 -U 0 -I 4k -o slab_chunk_max=2048 -m 8 &
MC=$!
sleep 1
ip netns exec $NS python3 client.py 127.0.0.1 11211 memcached.truth.json
# tcpdump may lag behind on a busy machine: stop it only once the capture has stopped growing.
last=-1
while [ "$(stat -c %s "$PCAP")" != "$last" ]; do last=$(stat -c %s "$PCAP"); sleep 1; done
kill -INT $TD; wait $TD 2>/dev/null || true
ls -l memcached.pcap
