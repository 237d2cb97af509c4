import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodedPacket, IPPROTO_TCP, IPPROTO_UDP } from '../src/engine/decode/packet';
import { FlowTable } from '../src/engine/flow/flow-table';
import type { FlowRecord } from '../src/shared/records';

function pkt(p: DecodedPacket, t: number, proto: number, src: number, sport: number, dst: number, dport: number, flags = 0, seq = 0, ack = 0, len = 0) {
  p.tsUs = t;
  p.frameLen = 60 + len;
  p.ipVersion = 4;
  p.protocol = proto;
  p.srcIp[0] = src;
  p.dstIp[0] = dst;
  p.srcPort = sport;
  p.dstPort = dport;
  p.tcpFlags = flags;
  p.tcpSeq = seq;
  p.tcpAck = ack;
  p.payloadLen = len;
  return p;
}

test('a pooled flow object reused for UDP reports no TCP metrics of its earlier life', () => {
  const out: FlowRecord[] = [];
  const t = new FlowTable({ captureId: 1, firstFlowId: 1, onFlow: (r) => out.push(r) });
  const p = new DecodedPacket();
  const A = 0x0a000001, B = 0x0a000002;
  t.add(pkt(p, 1_000_000, IPPROTO_TCP, A, 40000, B, 80, 0x02, 1000), 0);
  t.add(pkt(p, 1_000_500, IPPROTO_TCP, B, 80, A, 40000, 0x12, 5000, 1001), 0);
  t.add(pkt(p, 1_001_000, IPPROTO_TCP, A, 40000, B, 80, 0x10, 1001, 5001), 0);
  t.add(pkt(p, 1_002_000, IPPROTO_TCP, A, 40000, B, 80, 0x18, 1001, 5001, 100), 0);
  t.add(pkt(p, 1_003_000, IPPROTO_TCP, A, 40000, B, 80, 0x18, 1001, 5001, 100), 0); // retransmission
  t.flushAll();
  assert.equal(out.length, 1);
  assert.equal(out[0].retransTx, 1);
  assert.equal(out[0].rtt, 1000);
  t.add(pkt(p, 2_000_000, IPPROTO_UDP, A, 5353, B, 53, 0, 0, 0, 30), 0);
  t.add(pkt(p, 2_000_400, IPPROTO_UDP, B, 53, A, 5353, 0, 0, 0, 60), 0);
  t.flushAll();
  assert.equal(out.length, 2);
  const udp = out[1];
  assert.equal(udp.protocol, IPPROTO_UDP);
  assert.deepEqual([udp.clientPort, udp.serverPort, udp.packetsTx, udp.packetsRx], [5353, 53, 1, 1]);
  assert.deepEqual([udp.retransTx, udp.rtt, udp.synCount, udp.srtCount], [0, 0, 0, 0]);
});

test('a new SYN with a new ISN after FIN starts a new flow row; an idle flow expires in packet time', () => {
  const out: FlowRecord[] = [];
  const t = new FlowTable({ captureId: 1, firstFlowId: 100, onFlow: (r) => out.push(r) });
  const p = new DecodedPacket();
  const A = 0x0a000001, B = 0x0a000002;
  const conn = (t0: number, isn: number) => {
    t.add(pkt(p, t0, IPPROTO_TCP, A, 40000, B, 80, 0x02, isn), 0);
    t.add(pkt(p, t0 + 100, IPPROTO_TCP, B, 80, A, 40000, 0x12, 9000, isn + 1), 0);
    t.add(pkt(p, t0 + 200, IPPROTO_TCP, A, 40000, B, 80, 0x10, isn + 1, 9001), 0);
    t.add(pkt(p, t0 + 300, IPPROTO_TCP, A, 40000, B, 80, 0x11, isn + 1, 9001), 0);
    t.add(pkt(p, t0 + 400, IPPROTO_TCP, B, 80, A, 40000, 0x11, 9001, isn + 2), 0);
    t.add(pkt(p, t0 + 500, IPPROTO_TCP, A, 40000, B, 80, 0x10, isn + 2, 9002), 0);
  };
  conn(1_000_000, 1000);
  conn(1_010_000, 777777); // same ports 10 ms later (TIME_WAIT reuse)
  assert.equal(out.length, 1, 'the first connection is closed when the second SYN arrives');
  t.add(pkt(p, 900_000_000, IPPROTO_UDP, A, 1, B, 2), 0); // much later: the sweep expires the second
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((f) => [f.flowId, f.closeType, f.packetsTx, f.packetsRx]), [[100, 1, 4, 2], [101, 1, 4, 2]]);
});
