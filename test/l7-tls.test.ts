// TLS handshake rows against a real TLS server and clients (samples/l7/tls: generator, capture, the
// clients' truth), tshark's TLS dissector, and a seeded fuzz of mutated real payloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { TLS, alertName, cipherSuiteName, tlsVersionName } from '../src/engine/l7/tls';
import { SAMPLES, readPackets, rng, runCapture, runPackets, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, TLS]);
const DIR = join(SAMPLES, 'l7/tls');
const PCAP = join(DIR, 'tls.pcap');

interface Handshake {
  name: string;
  servername: string;
  alpn_offered: string[] | null;
  start_us: number;
  secure_us?: number;
  client: [string, number] | null;
  ok: boolean;
  version?: string;
  cipher?: string;
  alpn?: string | null;
  error?: string;
}
const truth = JSON.parse(readFileSync(join(DIR, 'tls.truth.json'), 'utf8')) as { server: [string, number]; handshakes: Handshake[] };

/** What the truth says about each failed handshake's alert on the wire. */
const FAILURES: Record<string, { status: string; code: number }> = {
  'tls12-unknown-ca': { status: 'client_error', code: 48 }, // the client rejects the chain: alert unknown_ca
  'tls13-unknown-ca': { status: 'client_error', code: 48 },
  'tls11-refused': { status: 'server_error', code: 70 }, // the server refuses TLS 1.1: alert protocol_version
};

test('TLS capture: one row per handshake, SNI, negotiated version, cipher, ALPN and failures as the clients saw them', async () => {
  const { records, engine, protocols } = await runCapture(PCAP, { registry: registry() });
  assert.equal(engine.stats.parserErrors, 0);
  assert.ok([...protocols.values()].every((p) => p === 'tls'), 'every connection is TLS, none mistaken for another protocol');
  const rows = records.sort((a, b) => a.startTime - b.startTime);
  assert.equal(rows.length, truth.handshakes.length);
  truth.handshakes.forEach((t, i) => {
    const r = rows[i];
    const what = t.name;
    if (t.client !== null) assert.equal(r.clientPort, t.client[1], what);
    assert.equal(r.serverPort, truth.server[1]);
    assert.ok(r.startTime >= t.start_us, what);
    assert.equal(r.l7Protocol, 'tls');
    assert.equal(r.requestType, 'ClientHello', what);
    assert.equal(r.requestDomain, t.servername, what);
    assert.equal(r.requestResource, t.servername, what);
    if (t.ok) {
      assert.equal(r.responseStatus, 'ok', what);
      assert.equal(r.version, t.version, what);
      const offered = t.alpn_offered?.join(',');
      const alpn = t.version === 'TLSv1.3' ? (offered ? ` alpn_offered=${offered}` : '') : t.alpn ? ` alpn=${t.alpn}` : '';
      assert.equal(r.responseResult, `cipher=${t.cipher}${alpn}`, what);
      assert.ok(r.duration !== null && r.duration > 0, what);
      // The row lasts until the handshake is done; the client learnt it then (its clock has ms steps).
      assert.ok(r.endTime > r.startTime + r.duration, `${what}: ends after the ServerHello`);
      // Node tells the client (its clock has ms steps) just before its last handshake bytes leave; the
      // exact end is checked against tshark below.
      assert.ok(r.endTime <= t.secure_us! + 5000, `${what}: done about when the client was told`);
    } else {
      const f = FAILURES[t.name];
      assert.equal(r.responseStatus, f.status, what);
      assert.equal(r.responseCode, f.code, what);
      assert.equal(r.responseException, alertName(f.code), what);
    }
  });
});

test('TLS capture: hellos, suites, SNI, ALPN, versions and alerts as tshark decodes them; application data never parsed', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const rows = tsharkFields(PCAP, [
    'frame.time_epoch', 'tcp.srcport', 'tcp.seq_raw', 'tls.record.content_type', 'tls.handshake.type', 'tls.handshake.extensions_server_name',
    'tls.handshake.ciphersuite', 'tls.handshake.extensions_alpn_str', 'tls.handshake.extensions.supported_version', 'tls.alert_message.desc',
  ], ['-Y', 'tls']);
  const byClient = new Map(records.map((r) => [r.clientPort, r]));
  const us = (t: string): number => Math.round(Number(t) * 1e6);
  let hellos = 0;
  let serverHellos = 0;
  let alerts = 0;
  let ends = 0;
  let after = 0;
  for (const [time, sport, seq, ctypes, htypes, sni, suite, alpn, sv, alert] of rows) {
    const types = htypes.split(',');
    const fromClient = Number(sport) !== truth.server[1];
    const r = fromClient ? byClient.get(Number(sport)) : undefined;
    if (types.includes('1')) {
      assert.equal(r!.reqTcpSeq, Number(seq));
      assert.equal(r!.requestDomain, sni);
      hellos++;
    }
    if (types.includes('2')) {
      const x = records.find((y) => y.serverPort === Number(sport) && y.respTcpSeq === Number(seq));
      assert.ok(x, `ServerHello at ${seq}`);
      assert.ok(x.responseResult!.startsWith(`cipher=${cipherSuiteName(Number(suite))}`));
      // supported_versions of a ServerHello is the chosen version (TLS 1.3); else the legacy version.
      const chosen = sv !== '' ? Number(sv.split(',').pop()) : 0x0303;
      assert.equal(x.version, tlsVersionName(chosen));
      if (alpn !== '') assert.ok(x.responseResult!.endsWith(` alpn=${alpn}`));
      serverHellos++;
    }
    if (alert !== '') {
      const x = r ?? records.find((y) => y.serverPort === Number(sport) && y.responseCode === Number(alert));
      assert.ok(x, `alert from port ${sport}`);
      assert.equal(x.responseCode, Number(alert));
      alerts++;
    }
    // The handshake is done with the client's Finished (TLS 1.3, sent with its ChangeCipherSpec) or the
    // server's (TLS 1.2, after its ChangeCipherSpec): that packet ends the row.
    if (ctypes.split(',').includes('20')) {
      const x = fromClient ? r! : records.find((y) => y.respTcpSeq !== null && y.version === 'TLSv1.2' && Math.abs(y.endTime - us(time)) < 2);
      if (x && x.responseStatus === 'ok' && (fromClient ? x.version === 'TLSv1.3' : true)) {
        assert.equal(x.endTime, us(time), `end of the handshake from port ${x.clientPort}`);
        ends++;
      }
    }
    // Everything after a row's end is encrypted traffic the parser never reads.
    if (r !== undefined && us(time) > r.endTime) after++;
  }
  assert.equal(hellos, 6);
  assert.equal(serverHellos, 5, 'the TLS 1.1 ClientHello got an alert, not a ServerHello');
  assert.equal(alerts, 3);
  assert.equal(ends, 3, 'the three completed handshakes end at their Finished');
  assert.ok(after >= 4, `${after} client packets after the handshakes, none of them a row`);
  assert.equal(records.length, 6);
});

test('a TLS connection seen mid-stream (only encrypted records) is TLS without rows, not another protocol', async () => {
  const all = await readPackets(PCAP);
  // Keep the packets of the first connection after its handshake: only application data and the close.
  const { records } = runPackets(all, { registry: registry() });
  const first = records.sort((a, b) => a.startTime - b.startTime)[0];
  const done = first.endTime;
  const rest = all.filter((p) => p.tsUs > done + 1 && p.data.includes(Buffer.from([first.clientPort >> 8, first.clientPort & 0xff])));
  assert.ok(rest.length >= 2);
  const r = runPackets(rest, { registry: registry() });
  assert.equal(r.records.length, 0);
  assert.ok([...r.protocols.values()].includes('tls'));
});

test('seeded fuzz: mutated real TLS payloads never throw nor hang the parser or detection', async () => {
  const base = await readPackets(PCAP);
  const rand = rng(0x5eed_0443);
  let rows = 0;
  for (let round = 0; round < 60; round++) {
    const pk = base.map((p) => {
      const d = Buffer.from(p.data);
      const n = Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const at = 40 + Math.floor(rand() * Math.max(1, d.length - 40));
        if (at < d.length) d[at] = Math.floor(rand() * 256);
      }
      return { ...p, data: rand() < 0.05 ? d.subarray(0, Math.floor(rand() * d.length)) : d };
    });
    const { engine, records } = runPackets(pk, { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0, `round ${round}`);
    rows += records.length;
  }
  assert.ok(rows > 0);
  const ctx = { transport: 6 as const, fromClient: true, srcPort: 40000, dstPort: 443 };
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 80));
    for (let k = 0; k < b.length; k++) b[k] = k === 0 && rand() < 0.5 ? 0x16 : k === 1 && rand() < 0.5 ? 3 : Math.floor(rand() * 256);
    TLS.detect(b, 0, b.length, ctx);
  }
});
