// DeepFlow's own TCP expectations, packet by packet: test/fixtures/deepflow-tcp-perf.json was made from
// DeepFlow's .result dumps by test/fixtures/convert-deepflow-perf.py (the PerfData after each packet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { openCapture } from '../src/engine/capture/open';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket, IPPROTO_TCP } from '../src/engine/decode/packet';
import { TcpPerf, type TimeStat } from '../src/engine/flow/tcp-perf';
import { analyzeCapture } from '../src/engine/pipeline';
import type { FlowRecord } from '../src/shared/records';

const DIR = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';
const FIXTURES = existsSync(DIR) ? DIR : join(import.meta.dirname, '../../shared/fixtures/deepflow/agent/resources/test/flow_generator');

interface Stat { count: number; sum: number; max: number }
interface Expected {
  index: number; pcap: string;
  rtt_0: Stat; rtt_1: Stat; art_0: Stat; art_1: Stat; srt_0: Stat; srt_1: Stat; cit: Stat;
  rtt_full: number; retrans_0: number; retrans_1: number; zero_win_count_0: number; zero_win_count_1: number;
  syn: number; synack: number; retrans_syn: number; retrans_synack: number;
}
const expected: Record<string, Expected[]> = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures/deepflow-tcp-perf.json'), 'utf8'),
);

/** Runs one single-connection pcap through TcpPerf; returns the state after each packet. */
async function perPacket(pcap: string) {
  const src = await openCapture(join(FIXTURES, pcap));
  const dec = new Decoder();
  const p = new DecodedPacket();
  const perf = new TcpPerf();
  let firstSrc = -1;
  let firstPort = -1;
  const snaps: Record<string, unknown>[] = [];
  const s = (t: TimeStat) => ({ count: t.count, sum: t.sum, max: t.max });
  for await (const b of src.batches()) {
    for (let i = 0; i < b.count; i++) {
      const st = dec.decode(b.buf, b.offset[i], b.caplen[i], b.origLen[i], src.interfaces[b.ifIndex[i]].linkType, b.tsUs[i], p);
      assert.equal(st, DecodeStatus.Ok);
      assert.equal(p.protocol, IPPROTO_TCP);
      if (firstSrc === -1) {
        firstSrc = p.srcIp[0];
        firstPort = p.srcPort;
      }
      // DeepFlow's tests measure relative to the first packet's direction.
      const fpd = p.srcIp[0] === firstSrc && p.srcPort === firstPort;
      p.tsUs = b.tsUs[i];
      perf.parse(p, fpd);
      snaps.push({
        rtt_0: s(perf.rttClient), rtt_1: s(perf.rttServer), art_0: s(perf.artClient), art_1: s(perf.artServer),
        srt_0: s(perf.srtClient), srt_1: s(perf.srtServer), cit: s(perf.cit), rtt_full: perf.rttFull,
        retrans_0: perf.retransTx, retrans_1: perf.retransRx, zero_win_count_0: perf.zeroWinTx,
        zero_win_count_1: perf.zeroWinRx, syn: perf.syn, synack: perf.synack,
        retrans_syn: perf.retransSyn, retrans_synack: perf.retransSynack,
      });
    }
  }
  return snaps;
}

for (const [resultFile, entries] of Object.entries(expected)) {
  const pcaps = [...new Set(entries.map((e) => e.pcap))].filter((f) => existsSync(join(FIXTURES, f)));
  for (const pcap of pcaps) {
    test(`TCP perf after every packet of ${pcap} equals DeepFlow's ${resultFile}`, async () => {
      const want = entries.filter((e) => e.pcap === pcap);
      const got = await perPacket(pcap);
      assert.equal(got.length, want.length, 'one expectation per packet');
      for (let i = 0; i < want.length; i++) {
        const { index: _i, pcap: _p, ...w } = want[i];
        assert.deepEqual(got[i], w, `packet ${i + 1} of ${pcap}`);
      }
    });
  }
}

async function flowsOf(pcap: string): Promise<FlowRecord[]> {
  const flows: FlowRecord[] = [];
  await analyzeCapture(join(FIXTURES, pcap), {
    sink: {
      beginCapture: async () => ({ captureId: 1, firstFlowId: 1 }),
      addFlow: (r) => flows.push(r),
      endCapture: async () => {},
    },
  });
  return flows;
}

test("DeepFlow's golden TCP vector (report.result) comes out exactly in the flow record", async () => {
  const flows = await flowsOf('art-continues-payload-len-larger-than-1.pcap');
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.deepEqual(
    { rttClient: f.rttClient, rttServer: f.rttServer, rtt: f.rtt, srt: f.srtMax, art: f.artMax, cit: f.citMax },
    { rttClient: 20322, rttServer: 10226, rtt: 30548, srt: 10040, art: 30358, cit: 15033 },
  );
  assert.deepEqual(
    { srtCount: f.srtCount, artCount: f.artCount, citCount: f.citCount, syn: f.synCount, synack: f.synackCount, fin: f.finCount, retrans: f.retransTx + f.retransRx },
    { srtCount: 1, artCount: 1, citCount: 1, syn: 1, synack: 1, fin: 2, retrans: 0 },
  );
});

// Close types DeepFlow asserts in flow_state.rs (the last flow it reports for each file).
const CLOSE_TYPES: [string, number][] = [
  ['tcp-n-syn-ack.pcap', 10],
  ['l4-source-port-reuse.pcap', 13],
  ['server-reset.pcap', 15],
  ['server-queue-lack.pcap', 17],
  ['client-syn-try-lack.pcap', 20],
];
for (const [pcap, closeType] of CLOSE_TYPES) {
  test(`${pcap} closes with close_type ${closeType}`, async () => {
    const flows = await flowsOf(pcap);
    assert.ok(flows.length >= 1);
    const tcp = flows.filter((f) => f.protocol === 6).sort((a, b) => a.endTime - b.endTime);
    assert.equal(tcp[tcp.length - 1].closeType, closeType, JSON.stringify(tcp.map((f) => [f.clientPort, f.serverPort, f.closeType])));
  });
}
