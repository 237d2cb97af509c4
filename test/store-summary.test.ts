import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/engine/store/store';
import { captureSummary } from '../src/engine/store/summary';
import { CONNECTION_FAILURE_CLOSE_TYPES, type CaptureRecord, type FlowRecord, type InterfaceRecord } from '../src/shared/records';
import {
  OBSERVATION_POINT_PREFERENCE,
  RESET_CLOSE_TYPES,
  closeTypeName,
  type CaptureSummary,
  type CloseTypeCount,
  type ProtocolClass,
} from '../src/shared/summary';
import { CAPTURE_A, CAPTURE_B, generate } from './store-gen';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-summary-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function storeWith(
  path: string,
  captures: CaptureRecord[],
  interfaces: InterfaceRecord[],
  flows: FlowRecord[],
): Promise<Store> {
  const store = await Store.open(path);
  for (const c of captures) await store.writeCapture(c);
  await store.writeInterfaces(interfaces);
  const w = await store.flowWriter();
  for (const f of flows) w.add(f);
  w.close();
  return store;
}

/** SQL-standard PERCENTILE_DISC, the definition the summary states: sorted[ceil(p·n) − 1]. */
function percentileDisc(sorted: number[], p: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

function protocolClass(p: number): ProtocolClass {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 || p === 58 ? 'icmp' : 'other';
}

const rank = (op: string): number => {
  const i = OBSERVATION_POINT_PREFERENCE.indexOf(op);
  return i < 0 ? OBSERVATION_POINT_PREFERENCE.length : i;
};
const pk = (f: FlowRecord): number => f.packetsTx + f.packetsRx;
const by = (f: FlowRecord): number => f.bytesTx + f.bytesRx;
const tuple = (f: FlowRecord): string => [f.clientIp, f.clientPort, f.serverIp, f.serverPort, f.protocol].join('|');

/**
 * The summary computed in plain JS from the records, grouping rows into connections by the
 * generator's ground truth (which row belongs to which connection), not by the store's rule.
 */
function expectedSummary(
  flows: FlowRecord[],
  connectionOf: number[],
  captures: CaptureRecord[],
  interfaces: InterfaceRecord[],
  captureIds: number[],
  top: number,
): CaptureSummary {
  const keep = new Set(captureIds);
  const rows = flows.map((f, i) => ({ f, conn: connectionOf[i] })).filter((r) => keep.has(r.f.captureId));
  const groups = new Map<number, FlowRecord[]>();
  for (const r of rows) groups.set(r.conn, [...(groups.get(r.conn) ?? []), r.f]);
  const reps = [...groups.values()].map(
    (g) => [...g].sort((a, b) => rank(a.observationPoint) - rank(b.observationPoint) || pk(b) - pk(a) || a.flowId - b.flowId)[0],
  );
  const all = rows.map((r) => r.f);
  const sum = (list: FlowRecord[], f: (x: FlowRecord) => number): number => list.reduce((s, x) => s + f(x), 0);

  const protocols = (['tcp', 'udp', 'icmp', 'other'] as const).map((p) => {
    const r = reps.filter((f) => protocolClass(f.protocol) === p);
    return { protocol: p, flowRows: all.filter((f) => protocolClass(f.protocol) === p).length, connections: r.length, packets: sum(r, pk), bytes: sum(r, by) };
  });

  const conv = new Map<string, FlowRecord[]>();
  for (const f of reps) conv.set(tuple(f), [...(conv.get(tuple(f)) ?? []), f]);
  const rowsByTuple = new Map<string, FlowRecord[]>();
  for (const f of all) rowsByTuple.set(tuple(f), [...(rowsByTuple.get(tuple(f)) ?? []), f]);
  const topConversations = [...conv.entries()]
    .map(([key, rs]) => {
      const rowsOf = rowsByTuple.get(key)!;
      const f = rs[0];
      return {
        clientIp: f.clientIp,
        clientPort: f.clientPort,
        serverIp: f.serverIp,
        serverPort: f.serverPort,
        protocol: f.protocol,
        connections: rs.length,
        flowRows: rowsOf.length,
        packets: sum(rs, pk),
        bytes: sum(rs, by),
        observationPoints: new Set(rowsOf.map((x) => x.observationPoint)).size,
        interfaces: new Set(rowsOf.map((x) => `${x.captureId}/${x.ifIndex}`)).size,
      };
    })
    .sort(
      (a, b) =>
        b.bytes - a.bytes ||
        b.packets - a.packets ||
        (a.clientIp < b.clientIp ? -1 : a.clientIp > b.clientIp ? 1 : 0) ||
        a.clientPort - b.clientPort ||
        (a.serverIp < b.serverIp ? -1 : a.serverIp > b.serverIp ? 1 : 0) ||
        a.serverPort - b.serverPort ||
        a.protocol - b.protocol,
    )
    .slice(0, top);

  const tcp = reps.filter((f) => f.protocol === 6);
  const closeCount = (code: number): CloseTypeCount => ({
    closeType: code,
    name: closeTypeName(code),
    connections: tcp.filter((f) => f.closeType === code).length,
  });
  const failures = CONNECTION_FAILURE_CLOSE_TYPES.map(closeCount);
  const resets = RESET_CLOSE_TYPES.map(closeCount);
  const rtts = tcp.map((f) => f.rtt).filter((x) => x > 0).sort((a, b) => a - b);
  const packets = sum(tcp, pk);
  const srtCount = sum(tcp, (f) => f.srtCount);
  const artCount = sum(tcp, (f) => f.artCount);
  const maxOf = (list: number[]): number | null => (list.length ? Math.max(...list) : null);

  const caps = captures.filter((c) => keep.has(c.captureId));
  const ifKeys = new Set<string>();
  const ifRows = [
    ...interfaces.filter((i) => keep.has(i.captureId)).map((i) => ({ captureId: i.captureId, ifIndex: i.ifIndex, name: i.name, kind: i.kind })),
    ...all.map((f) => ({ captureId: f.captureId, ifIndex: f.ifIndex, name: '', kind: '' })),
  ].filter((i) => !ifKeys.has(`${i.captureId}/${i.ifIndex}`) && ifKeys.add(`${i.captureId}/${i.ifIndex}`));
  const ops = new Map<string, number>();
  for (const f of all) ops.set(f.observationPoint, (ops.get(f.observationPoint) ?? 0) + 1);
  const first = caps.length ? Math.min(...caps.map((c) => c.startedAt!)) : null;
  const last = caps.length ? Math.max(...caps.map((c) => c.endedAt!)) : null;

  return {
    captureIds: [...captureIds].sort((a, b) => a - b),
    captures: caps.map((c) => ({ ...c })),
    packets: caps.reduce((s, c) => s + c.packets, 0),
    bytes: caps.reduce((s, c) => s + c.bytes, 0),
    malformedPackets: caps.reduce((s, c) => s + c.malformedPackets, 0),
    nonIpPackets: caps.reduce((s, c) => s + c.nonIpPackets, 0),
    firstTime: first,
    lastTime: last,
    durationUs: first !== null && last !== null ? last - first : null,
    flowRows: all.length,
    connections: reps.length,
    protocols,
    topConversations,
    tcp: {
      flowRows: all.filter((f) => f.protocol === 6).length,
      connections: tcp.length,
      handshakesSeen: tcp.filter((f) => f.handshakeSeen).length,
      connectionFailures: { total: sum(tcp, (f) => (CONNECTION_FAILURE_CLOSE_TYPES as readonly number[]).includes(f.closeType) ? 1 : 0), byType: failures },
      resets: { total: sum(tcp, (f) => (RESET_CLOSE_TYPES as readonly number[]).includes(f.closeType) ? 1 : 0), byType: resets },
      timeouts: tcp.filter((f) => f.closeType === 3).length,
      closeTypes: [...new Set(tcp.map((f) => f.closeType))]
        .map(closeCount)
        .sort((a, b) => b.connections - a.connections || a.closeType - b.closeType),
      packets,
      retransTx: sum(tcp, (f) => f.retransTx),
      retransRx: sum(tcp, (f) => f.retransRx),
      retransRatio: packets > 0 ? (sum(tcp, (f) => f.retransTx) + sum(tcp, (f) => f.retransRx)) / packets : null,
      zeroWinTx: sum(tcp, (f) => f.zeroWinTx),
      zeroWinRx: sum(tcp, (f) => f.zeroWinRx),
      oooTx: sum(tcp, (f) => f.oooTx),
      oooRx: sum(tcp, (f) => f.oooRx),
      rtt: { count: rtts.length, p50: percentileDisc(rtts, 0.5), p90: percentileDisc(rtts, 0.9), p99: percentileDisc(rtts, 0.99), max: maxOf(rtts) },
      srt: { count: srtCount, avg: srtCount ? sum(tcp, (f) => f.srtSum) / srtCount : null, max: maxOf(tcp.filter((f) => f.srtCount > 0).map((f) => f.srtMax)) },
      art: { count: artCount, avg: artCount ? sum(tcp, (f) => f.artSum) / artCount : null, max: maxOf(tcp.filter((f) => f.artCount > 0).map((f) => f.artMax)) },
    },
    interfaces: ifRows
      .map((i) => {
        const r = all.filter((f) => f.captureId === i.captureId && f.ifIndex === i.ifIndex); // few interfaces
        return { ...i, flowRows: r.length, packets: sum(r, pk), bytes: sum(r, by) };
      })
      .sort((a, b) => a.captureId - b.captureId || a.ifIndex - b.ifIndex),
    observationPoints: [...ops.entries()]
      .map(([observationPoint, flowRows]) => ({ observationPoint, flowRows }))
      .sort((a, b) => b.flowRows - a.flowRows || (a.observationPoint < b.observationPoint ? -1 : 1)),
  };
}

test('summary of 100,000 generated flows equals the one computed from the records', async (t) => {
  const g = generate(100_000, 7);
  const store = await storeWith(join(tempDir(t), 's.duckdb'), g.captures, g.interfaces, g.flows);
  try {
    const got = await captureSummary(store, undefined, { topConversations: 15 });
    // Ground truth first: hop copies collapse into exactly the connections the generator made.
    assert.equal(got.connections, g.connections);
    assert.equal(got.flowRows, 100_000);
    assert.ok(got.connections < got.flowRows * 0.6, 'the data has hop copies');
    const want = expectedSummary(g.flows, g.connectionOf, g.captures, g.interfaces, [CAPTURE_A, CAPTURE_B], 15);
    assert.deepEqual(got.tcp.connectionFailures, want.tcp.connectionFailures);
    assert.deepEqual(got.tcp.rtt, want.tcp.rtt);
    assert.deepEqual(got, want);
    // The data exercises what it should.
    assert.ok(want.tcp.connectionFailures.byType.every((c) => c.connections > 0));
    assert.ok(want.tcp.rtt.count > 1000 && want.tcp.retransRatio! > 0);
    assert.ok(new Set(g.flows.map(tuple)).size < g.connections, 'some 5-tuples are reused by a later connection');
    assert.ok(want.protocols.every((p) => p.connections > 0));

    // Only capture B: its rows are third hops whose other copies live in capture A.
    const onlyB = await captureSummary(store, [CAPTURE_B]);
    assert.deepEqual(onlyB, expectedSummary(g.flows, g.connectionOf, g.captures, g.interfaces, [CAPTURE_B], 10));
    assert.equal(onlyB.connections, g.flows.filter((f) => f.captureId === CAPTURE_B).length);

    const none = await captureSummary(store, []);
    assert.equal(none.flowRows, 0);
    assert.equal(none.connections, 0);
    assert.equal(none.tcp.rtt.p50, null);
    assert.equal(none.tcp.retransRatio, null);
    assert.equal(none.firstTime, null);
    // Each summary runs on its own connection: several at once (the app's views ask together)
    // give the same answers as one after another.
    const [again, againB, count] = await Promise.all([
      captureSummary(store, undefined, { topConversations: 15 }),
      captureSummary(store, [CAPTURE_B]),
      store.query('SELECT count(*) FROM flows'),
    ]);
    assert.deepEqual(again, got);
    assert.deepEqual(againB, onlyB);
    assert.deepEqual(count.rows, [[100_000n]]);
  } finally {
    await store.close();
  }
});

/** A small flow with everything zero; tests set what they need. */
function flow(p: Partial<FlowRecord> & Pick<FlowRecord, 'flowId' | 'observationPoint' | 'startTime'>): FlowRecord {
  return {
    captureId: 1,
    ifIndex: 0,
    endTime: p.startTime + 1000,
    ipVersion: 4,
    protocol: 6,
    clientIp: '10.0.0.1',
    serverIp: '10.0.0.2',
    clientPort: 40000,
    serverPort: 80,
    tunnelType: '',
    tunnelId: -1,
    tunnelOuterSrc: '',
    tunnelOuterDst: '',
    vlan: 0,
    packetsTx: 0,
    packetsRx: 0,
    bytesTx: 0,
    bytesRx: 0,
    payloadTx: 0,
    payloadRx: 0,
    synCount: 0,
    synackCount: 0,
    finCount: 0,
    rstCount: 0,
    retransTx: 0,
    retransRx: 0,
    zeroWinTx: 0,
    zeroWinRx: 0,
    oooTx: 0,
    oooRx: 0,
    rtt: 0,
    rttClient: 0,
    rttServer: 0,
    srtSum: 0,
    srtCount: 0,
    srtMax: 0,
    artSum: 0,
    artCount: 0,
    artMax: 0,
    citSum: 0,
    citCount: 0,
    citMax: 0,
    closeType: 1,
    handshakeSeen: false,
    synSeq: -1,
    synackSeq: -1,
    l7Protocol: '',
    ...p,
  };
}

test('hand-checked summary: hop copies, port reuse, NAT, representative rows', async (t) => {
  const T = 1_700_000_000_000_000;
  const flows = [
    // X: one TCP connection seen at the client veth and the server veth; the s row speaks for it.
    flow({ flowId: 1, observationPoint: 'c', startTime: T, ifIndex: 0, packetsTx: 10, packetsRx: 10, bytesTx: 1000, bytesRx: 5000, rtt: 1000, retransTx: 2, handshakeSeen: true }),
    flow({ flowId: 2, observationPoint: 's', startTime: T + 30, ifIndex: 1, packetsTx: 10, packetsRx: 9, bytesTx: 1000, bytesRx: 4900, rtt: 900, retransTx: 1, handshakeSeen: true }),
    // The same copy seen 0.8 s later is still X (within 1 s of the previous row)...
    flow({ flowId: 3, observationPoint: 'rest', startTime: T + 800_000, ifIndex: 2, packetsTx: 50, packetsRx: 50, bytesTx: 99_999, rtt: 1 }),
    // ...but the same 5-tuple 2.5 s after that is a new connection (port reuse), reset by the server.
    flow({ flowId: 4, observationPoint: 's', startTime: T + 3_300_000, ifIndex: 1, packetsTx: 3, packetsRx: 1, bytesTx: 180, bytesRx: 60, closeType: 2 }),
    // Y: UDP through a VXLAN tunnel, seen on the node (c-nd) and in transit (rest): c-nd wins.
    flow({ flowId: 5, observationPoint: 'rest', startTime: T + 10, protocol: 17, clientIp: '10.0.0.3', clientPort: 5353, serverIp: '10.0.0.4', serverPort: 53, packetsTx: 1, packetsRx: 1, bytesTx: 150, bytesRx: 250, tunnelType: 'vxlan', tunnelId: 42, ifIndex: 2, closeType: 3 }),
    flow({ flowId: 6, observationPoint: 'c-nd', startTime: T + 20, protocol: 17, clientIp: '10.0.0.3', clientPort: 5353, serverIp: '10.0.0.4', serverPort: 53, packetsTx: 1, packetsRx: 1, bytesTx: 100, bytesRx: 200, ifIndex: 0, closeType: 3 }),
    // Z: IPv6 TCP on loopback that timed out, with SRT samples.
    flow({ flowId: 7, observationPoint: 'local', startTime: T + 5, ipVersion: 6, clientIp: 'fd00::1', clientPort: 50000, serverIp: 'fd00::2', serverPort: 443, packetsTx: 60, packetsRx: 40, bytesTx: 6000, bytesRx: 4000, rtt: 5000, retransTx: 4, retransRx: 1, srtSum: 300, srtCount: 3, srtMax: 150, closeType: 3, handshakeSeen: true }),
    // W: ICMP echo.
    flow({ flowId: 8, observationPoint: 'c', startTime: T + 7, protocol: 1, clientIp: '10.0.0.5', clientPort: 0, serverIp: '10.0.0.6', serverPort: 0, packetsTx: 2, packetsRx: 2, bytesTx: 168, bytesRx: 168, closeType: 0 }),
    // V: X's server-side copy after SNAT has another client address: not merged (the path view joins it).
    flow({ flowId: 9, observationPoint: 's-nd', startTime: T + 40, clientIp: '192.168.0.1', packetsTx: 4, packetsRx: 3, bytesTx: 400, bytesRx: 300, rtt: 2000, closeType: 13, handshakeSeen: true }),
  ];
  const capture: CaptureRecord = { captureId: 1, source: 'x.pcapng', kind: 'pcapng', startedAt: T, endedAt: T + 3_301_000, packets: 999, bytes: 99_999, fileBytes: 123, malformedPackets: 0, nonIpPackets: 0, error: null };
  const ifs: InterfaceRecord[] = [
    { captureId: 1, ifIndex: 0, name: 'veth0', description: '', linkType: 1, kind: 'veth', packets: 1 },
    { captureId: 1, ifIndex: 1, name: 'veth1', description: '', linkType: 1, kind: 'veth', packets: 1 },
  ];
  const store = await storeWith(join(tempDir(t), 'h.duckdb'), [capture], ifs, flows);
  try {
    const s = await captureSummary(store);
    assert.equal(s.flowRows, 9);
    assert.equal(s.connections, 6); // X, X-reused, Y, Z, W, V
    assert.equal(s.durationUs, 3_301_000);
    assert.deepEqual(
      s.protocols.map((p) => [p.protocol, p.connections, p.flowRows, p.packets, p.bytes]),
      [
        ['tcp', 4, 6, 19 + 4 + 100 + 7, 5900 + 240 + 10_000 + 700],
        ['udp', 1, 2, 2, 300],
        ['icmp', 1, 1, 4, 336],
        ['other', 0, 0, 0, 0],
      ],
    );
    const t0 = s.tcp;
    assert.equal(t0.connections, 4);
    assert.equal(t0.flowRows, 6);
    assert.equal(t0.handshakesSeen, 3); // X (s row), Z, V
    // RTT over representatives with rtt > 0: X's s row 900, V 2000, Z 5000 (not the c row's 1000
    // nor the rest row's 1). quantile_disc: p50 = sorted[ceil(1.5)-1] = 2000, p90 = sorted[2].
    assert.deepEqual(t0.rtt, { count: 3, p50: 2000, p90: 5000, p99: 5000, max: 5000 });
    assert.equal(t0.packets, 130);
    assert.equal(t0.retransTx, 5);
    assert.equal(t0.retransRx, 1);
    assert.equal(t0.retransRatio, 6 / 130);
    assert.equal(t0.connectionFailures.total, 1);
    assert.deepEqual(t0.connectionFailures.byType.find((c) => c.connections > 0), { closeType: 13, name: 'Est. - Client Port Reuse', connections: 1 });
    assert.equal(t0.resets.total, 1);
    assert.deepEqual(t0.resets.byType.find((c) => c.connections > 0), { closeType: 2, name: 'Transfer - Server RST', connections: 1 });
    assert.equal(t0.timeouts, 1); // Z; Y's timeout is UDP
    assert.deepEqual(t0.srt, { count: 3, avg: 100, max: 150 });
    assert.deepEqual(t0.art, { count: 0, avg: null, max: null });
    const x = s.topConversations.find((c) => c.clientIp === '10.0.0.1')!;
    assert.deepEqual(x, {
      clientIp: '10.0.0.1', clientPort: 40000, serverIp: '10.0.0.2', serverPort: 80, protocol: 6,
      connections: 2, flowRows: 4, packets: 23, bytes: 6140, observationPoints: 3, interfaces: 3,
    });
    assert.deepEqual(s.topConversations[0].clientIp, 'fd00::1'); // 10,000 bytes, the largest
    assert.deepEqual(
      s.interfaces.map((i) => [i.ifIndex, i.name, i.flowRows]),
      [[0, 'veth0', 5], [1, 'veth1', 2], [2, '', 2]],
    );
  } finally {
    await store.close();
  }
});

test('summary of an empty store', async () => {
  const store = await Store.open(':memory:');
  try {
    const s = await captureSummary(store);
    assert.deepEqual(s.captureIds, []);
    assert.equal(s.packets, 0);
    assert.equal(s.durationUs, null);
    assert.equal(s.tcp.connections, 0);
    assert.deepEqual(s.tcp.rtt, { count: 0, p50: null, p90: null, p99: null, max: null });
    assert.equal(s.protocols.length, 4);
    assert.deepEqual(s.topConversations, []);
  } finally {
    await store.close();
  }
});
