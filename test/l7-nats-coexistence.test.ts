// Memcached, NATS, AMQP and MongoDB registered next to the built-in modules: every capture of DeepFlow's
// flow_generator fixtures (HTTP, DNS, Redis, MySQL, Kafka, MQTT, Dubbo, … and their own) and the
// project's HTTP/DNS samples. Each of the four claims exactly the flows of its own protocol's captures,
// and the HTTP/DNS rows are the same with or without them (inference order cannot steal a flow).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AMQP } from '../src/engine/l7/amqp';
import { MEMCACHED } from '../src/engine/l7/memcached';
import { MONGO } from '../src/engine/l7/mongo';
import { NATS } from '../src/engine/l7/nats';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { FLOWGEN, SAMPLES, runCapture } from './l7-helpers';

const FOUR = [MEMCACHED, NATS, AMQP, MONGO];
const OWN: Record<string, string> = { memcached: 'memcached', nats: 'nats', amqp: 'amqp', mongo: 'mongodb' };

function captures(): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of readdirSync(FLOWGEN)) {
    const p = join(FLOWGEN, dir);
    if (!statSync(p).isDirectory()) continue;
    for (const f of readdirSync(p)) if (/\.pcap(ng)?$/.test(f)) out.push([dir, join(p, f)]);
  }
  return out;
}

test('the four modules claim the flows of their own captures and nothing else in DeepFlow fixtures', { timeout: 300_000 }, async () => {
  const files = captures();
  assert.ok(files.length >= 60, `fixture captures found: ${files.length}`);
  let own = 0;
  for (const [dir, path] of files) {
    const { protocols } = await runCapture(path, { registry: new ProtocolRegistry([...BUILTIN_PROTOCOLS, ...FOUR]) });
    for (const p of protocols.values()) {
      if (!FOUR.some((m) => m.name === p)) continue;
      assert.equal(p, OWN[dir], `${path}: a flow claimed as ${p}`);
      own++;
    }
    if (OWN[dir] !== undefined) assert.ok([...protocols.values()].includes(OWN[dir]), `${path} is recognised`);
  }
  assert.equal(own, 16, 'flows of the memcached (2), NATS (5), AMQP (7: four, two, one with payload) and MongoDB (2) captures');
});

test('HTTP and DNS rows of the project samples are the same with the four modules registered', { timeout: 300_000 }, async () => {
  for (const f of ['k8s-node1.pcapng', 'k8s-node2.pcapng']) {
    const base = await runCapture(join(SAMPLES, f));
    const more = await runCapture(join(SAMPLES, f), { registry: new ProtocolRegistry([...BUILTIN_PROTOCOLS, ...FOUR]) });
    assert.ok(base.records.length > 0);
    assert.deepEqual(more.records, base.records, f);
    assert.deepEqual([...more.protocols.values()], [...base.protocols.values()], f);
  }
});
