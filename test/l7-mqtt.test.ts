// The built-in MQTT module (src/engine/l7/mqtt.ts) against: a capture of Debian's mosquitto driven by a
// client that speaks MQTT 3.1, 3.1.1 and 5 itself and wrote down every packet it sent and received
// (samples/l7/mqtt), tshark's MQTT dissector over the same capture, and DeepFlow's parser results for its
// MQTT captures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MQTT } from '../src/engine/l7/mqtt';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { RequestRecord } from '../src/shared/records';
import { FLOWGEN, SAMPLES, runCapture, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, MQTT]);

interface Exchange {
  client_id: string; client_port: number; version: string; request_type: string; topic: string | null;
  response_type: string | null; code: number | null; request_length: number; response_length: number | null;
  one_way: boolean; sender: 'client' | 'broker'; time_us: number;
}
const DIR = join(SAMPLES, 'l7/mqtt');
const truth = JSON.parse(readFileSync(join(DIR, 'mqtt.truth.json'), 'utf8')) as { port: number; exchanges: Exchange[] };
const PCAP = join(DIR, 'mqtt.pcap');

/** CONNACK return codes (v3) and reason codes (v5) as SPEC.md classes them. */
function connackStatus(version: string, code: number): string {
  if (code === 0) return 'ok';
  if (version === '5.0') return code === 0x88 || code === 0x89 || code === 0x80 || code === 0x83 ? 'server_error' : 'client_error';
  return code === 3 ? 'server_error' : 'client_error';
}

test('mqtt mosquitto capture: one row per exchange the clients saw (3.1, 3.1.1, 5; QoS 0/1/2 both ways; refused CONNECTs), fields as they saw them', async () => {
  const { records, engine } = await runCapture(PCAP, { registry: registry() });
  assert.equal(engine.stats.gaps, 0);
  assert.equal(engine.stats.parserErrors, 0);
  const rows = records.filter((r) => r.l7Protocol === 'mqtt');
  assert.equal(engine.stats.detected.mqtt, new Set(truth.exchanges.map((x) => x.client_port)).size, 'every connection detected from its CONNECT');
  assert.equal(rows.length, truth.exchanges.length);
  const key = (type: string, topic: string | null, sender: string): string => `${type}|${topic}|${sender}`;
  for (const port of new Set(truth.exchanges.map((x) => x.client_port))) {
    const want = truth.exchanges.filter((x) => x.client_port === port);
    const got = rows.filter((r) => r.clientPort === port || r.serverPort === port);
    assert.equal(got.length, want.length, `client port ${port}`);
    const used = new Set<RequestRecord>();
    for (const x of want) {
      const what = `${x.client_id} ${x.request_type} ${x.topic} from ${x.sender}`;
      const r = got.find((g) => !used.has(g) && key(g.requestType!, g.requestResource, g.clientPort === truth.port ? 'broker' : 'client') === key(x.request_type, x.topic, x.sender)
        && g.requestLength === x.request_length);
      assert.ok(r, what);
      used.add(r);
      assert.equal(r.endpoint, x.topic, what);
      assert.equal(r.requestDomain, x.client_id, `${what}: the connection's client id`);
      assert.equal(r.version, x.version, what);
      assert.equal(r.responseLength, x.response_length, what);
      if (x.one_way) {
        assert.equal(r.duration, null, `${what}: no response by design`);
        assert.equal(r.responseStatus, 'ok', what);
        assert.equal(r.responseCode, x.code, what);
      } else {
        assert.ok(r.duration !== null && r.duration >= 0, `${what}: paired`);
        assert.equal(r.responseCode, x.code, what);
        assert.equal(r.responseStatus, x.request_type === 'CONNECT' ? connackStatus(x.version, x.code!) : 'ok', what);
      }
      if (x.sender === 'client') assert.ok(r.startTime <= x.time_us, `${what}: before the client logged it`);
    }
  }
  // The refused CONNECTs (bad password): 3.1.1 code 5 and 5.0 reason 0x87 are client errors.
  const refused = rows.filter((r) => r.requestType === 'CONNECT' && r.responseStatus !== 'ok').map((r) => [r.version, r.responseCode, r.responseStatus]);
  assert.deepEqual(refused.sort(), [['3.1.1', 5, 'client_error'], ['5.0', 0x87, 'client_error']]);
});

test("mqtt mosquitto capture: tshark's MQTT dissector counts the same packets per type, topics and CONNACK codes", async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const rows = records.filter((r) => r.l7Protocol === 'mqtt');
  const t = tsharkFields(PCAP, ['mqtt.msgtype', 'mqtt.topic', 'mqtt.conack.val', 'mqtt.connack.reason_code', 'mqtt.disconnect.reason_code'], ['-d', `tcp.port==${truth.port},mqtt`, '-Y', 'mqtt']);
  const types: number[] = t.flatMap((x) => x[0].split(',').map(Number));
  const count = (ty: number): number => types.filter((x) => x === ty).length;
  const n = (f: (r: RequestRecord) => boolean): number => rows.filter(f).length;
  const paired = (type: string): number => n((r) => r.requestType === type && r.duration !== null);
  assert.equal(n((r) => r.requestType === 'CONNECT'), count(1));
  assert.equal(paired('CONNECT'), count(2));
  assert.equal(n((r) => r.requestType === 'PUBLISH'), count(3));
  assert.equal(paired('PUBLISH'), count(4) + count(5), 'each PUBLISH QoS 1/2 paired with its PUBACK/PUBREC');
  assert.equal(n((r) => r.requestType === 'PUBREL'), count(6));
  assert.equal(paired('PUBREL'), count(7));
  assert.equal(paired('SUBSCRIBE'), count(9));
  assert.equal(n((r) => r.requestType === 'SUBSCRIBE'), count(8));
  assert.equal(paired('UNSUBSCRIBE'), count(11));
  assert.equal(paired('PINGREQ'), count(13));
  assert.equal(n((r) => r.requestType === 'PINGREQ'), count(12));
  assert.equal(n((r) => r.requestType === 'DISCONNECT'), count(14));
  // Topics of every PUBLISH, and the filters of every SUBSCRIBE/UNSUBSCRIBE.
  const topics = t.filter((x) => x[1] !== '').flatMap((x) => (x[0].split(',').length > 1 ? [] : [x[1]])).sort();
  const mine = rows.filter((r) => ['PUBLISH', 'SUBSCRIBE', 'UNSUBSCRIBE'].includes(r.requestType!)).map((r) => r.requestResource!).sort();
  assert.deepEqual(mine, topics);
  // CONNACK: v3 return code or v5 reason code.
  const codes = t.flatMap((x) => [x[2], x[3]].flatMap((c) => (c === '' ? [] : c.split(',').map(Number)))).sort();
  assert.deepEqual(rows.filter((r) => r.requestType === 'CONNECT').map((r) => r.responseCode!).sort(), codes);
  const disc = t.flatMap((x) => (x[4] === '' ? [] : x[4].split(',').map(Number)));
  assert.deepEqual(rows.filter((r) => r.requestType === 'DISCONNECT' && r.responseCode !== null).map((r) => r.responseCode), disc, 'v5 DISCONNECT reason codes');
  assert.equal(count(1), truth.exchanges.filter((x) => x.request_type === 'CONNECT').length);
  assert.equal(count(3), truth.exchanges.filter((x) => x.request_type === 'PUBLISH').length);
});

interface DfMqtt {
  pkt_type: string; client_id: string | null; version: number; req_msg_size: number | null; res_msg_size: number | null;
  subscribe_topics: string | null; publish_topic: string | null; code: number | null; status: string; _detected: boolean;
}
const deepflow = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-mqtt.json'), 'utf8')) as { results: Record<string, DfMqtt[]> };

const RESPONSES: Record<string, string> = { Connack: 'Connect', Puback: 'Publish', Pubrec: 'Publish', Pubcomp: 'Pubrel', Suback: 'Subscribe', Unsuback: 'Unsubscribe', Pingresp: 'Pingreq' };

for (const [name, lines] of Object.entries(deepflow.results)) {
  test(`mqtt deepflow ${name}: packet types, client id, topics, lengths and CONNACK code as DeepFlow's parser`, async () => {
    const { records, engine } = await runCapture(join(FLOWGEN, 'mqtt', `${name}.pcap`), { registry: registry() });
    const rows = records.filter((r) => r.l7Protocol === 'mqtt').sort((a, b) => a.startTime - b.startTime);
    if (!lines.some((l) => l._detected)) {
      // mqtt_error.pcap is a DNS-over-TCP segment (port 53) that DeepFlow's parser, called directly, reads as
      // a CONNACK; its detection says no (is_mqtt: false), and so does Flowscope's: no MQTT here.
      assert.equal(engine.stats.detected.mqtt, undefined);
      assert.equal(rows.length, 0);
      return;
    }
    // DeepFlow's per-packet lines, paired the way the protocol pairs them (DeepFlow's test does not pair).
    type Want = { type: string; topic: string | null; reqLen: number | null; respLen: number | null; code: number | null; clientId: string | null; oneWay: boolean };
    const want: Want[] = [];
    let clientId: string | null = null;
    for (const l of lines) {
      const kind = l.pkt_type.startsWith('Publish') ? 'Publish' : l.pkt_type;
      const topic = l.publish_topic ?? (l.subscribe_topics !== null ? [...l.subscribe_topics.matchAll(/name: "([^"]*)"/g)].map((m) => m[1]).join(',') : null);
      if (l.client_id !== null) clientId = l.client_id;
      const asked = RESPONSES[kind];
      if (asked !== undefined) {
        const w = want.find((x) => x.type === asked.toUpperCase() && x.respLen === null && !x.oneWay)!;
        w.respLen = l.res_msg_size;
        w.code = l.code;
        continue;
      }
      const qos0 = l.pkt_type.includes('AtMostOnce');
      // DeepFlow files a QoS 0 PUBLISH and a DISCONNECT as responses (res_msg_size); Flowscope makes them
      // one-way rows of their sender, their size the request length.
      const oneWay = qos0 || kind === 'Disconnect';
      want.push({ type: kind.toUpperCase(), topic, reqLen: l.req_msg_size ?? l.res_msg_size, respLen: null, code: null, clientId, oneWay });
    }
    assert.equal(rows.length, want.length);
    want.forEach((w, i) => {
      const r = rows[i];
      const what = `${name} #${i} ${w.type}`;
      assert.equal(r.requestType, w.type, what);
      assert.equal(r.requestResource, w.type === 'PUBREL' ? r.requestResource : w.topic, what);
      assert.equal(r.endpoint, r.requestResource, what);
      // DeepFlow names the client on the CONNECT row only; Flowscope on every row of the connection.
      assert.equal(r.requestDomain, w.clientId, what);
      assert.equal(r.requestLength, w.reqLen, what);
      assert.equal(r.responseLength, w.respLen, what);
      assert.equal(r.responseCode, w.code, what);
      assert.equal(r.responseStatus, 'ok', what);
      assert.equal(r.version, '3.1.1', `${what}: DeepFlow version 4`);
      assert.equal(r.duration === null, w.oneWay, what);
    });
    // Flowscope also names PUBREL after its QoS 2 PUBLISH's topic (DeepFlow leaves it empty).
    for (const r of rows.filter((x) => x.requestType === 'PUBREL')) assert.equal(r.requestResource, 'deepflow-agent');
  });
}
