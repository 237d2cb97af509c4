"""Sends one UDP datagram to each given IP (port 9, discard) so that ARP entries and the bridges' FDBs
are filled before the captures start; the workload then runs without ARP or flooding noise.

Usage: warmup.py SRC_IP DST_IP...
"""
import socket
import sys
import time


def main():
    src, dsts = sys.argv[1], sys.argv[2:]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for _round in range(2):
        for d in dsts:
            try:
                s.sendto(b"warmup", (d, 9))
            except OSError:
                pass  # an ICMP error from the previous datagram surfaces here; harmless
        time.sleep(0.1)
    s.close()


if __name__ == "__main__":
    main()
