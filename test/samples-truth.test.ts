// Keeps samples/k8s.truth.json and the committed captures from drifting apart: the truth's own structure
// must add up, and tshark (the oracle) must find in each capture exactly the connections, hops, DNS answers,
// HTTP statuses and retransmissions that the generator's clients recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Truth, TruthRequest } from '../samples/truth';

const SAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', 'samples');

type Request = TruthRequest;

const truth = JSON.parse(readFileSync(join(SAMPLES, 'k8s.truth.json'), 'utf8')) as Truth;
const reqsByConn = new Map<string, Request[]>();
for (const r of truth.requests) {
  const list = reqsByConn.get(r.connection) ?? [];
  list.push(r);
  reqsByConn.set(r.connection, list);
}
const hopKey = (node: string, iface: string): string => `${node}/${iface}`;
const tuple = (h: { src_ip: string; src_port: number; dst_ip: string; dst_port: number }): string =>
  `${h.src_ip}:${h.src_port}>${h.dst_ip}:${h.dst_port}`;

// ------------------------------------------------------------------------------------------ structure

test('truth: files, topology and ids are complete', () => {
  assert.equal(truth.schema, 'flowscope-samples-truth/1');
  let bytes = 0;
  for (const f of truth.files) {
    const path = join(SAMPLES, f.file);
    assert.ok(existsSync(path), `${f.file} is listed but missing`);
    bytes += statSync(path).size;
  }
  assert.ok(bytes < 4 * 1024 * 1024, `captures total ${bytes} bytes; keep them to a few MB`);
  assert.equal(truth.topology.nodes.length, 2);
  for (const n of truth.topology.nodes) {
    const idx = n.interfaces.map((i) => i.ifindex);
    assert.equal(new Set(idx).size, idx.length, `${n.name}: ifindex repeats`);
    for (const kind of ['eth', 'bridge', 'vxlan']) {
      assert.ok(n.interfaces.some((i) => i.kind === kind), `${n.name} has no ${kind} interface`);
    }
  }
  for (const p of truth.topology.pods) {
    const node = truth.topology.nodes.find((n) => n.name === p.node);
    assert.ok(node?.interfaces.some((i) => i.name === p.host_veth && i.kind === 'veth' && i.pod === p.name), p.name);
  }
  const ids = [...truth.connections.map((c) => c.id), ...truth.requests.map((r) => r.id)];
  assert.equal(new Set(ids).size, ids.length, 'ids repeat');
});

test('truth: requests belong to connections and carry consistent error classes', () => {
  const conns = new Map(truth.connections.map((c) => [c.id, c]));
  for (const c of truth.connections) {
    const reqs = reqsByConn.get(c.id) ?? [];
    assert.equal(reqs.length, c.requests, `${c.id} request count`);
    assert.deepEqual(reqs.map((r) => r.index_on_connection), reqs.map((_, i) => i), `${c.id} request order`);
    if (c.refused) assert.equal(c.requests, 0, `${c.id} refused yet has requests`);
  }
  for (const r of truth.requests) {
    assert.ok(conns.has(r.connection), `${r.id} -> ${r.connection}`);
    assert.ok(r.start_us <= r.end_us, `${r.id} ends before it starts`);
    assert.ok(r.start_us >= truth.capture_window.start_us && r.end_us <= truth.capture_window.end_us, `${r.id} window`);
    let expected: string;
    if (r.protocol === 'http') {
      const s = Number(r.status);
      expected = s >= 500 ? 'server_error' : s >= 400 ? 'client_error' : 'ok';
    } else if (r.protocol === 'dns') {
      const rc = Number(r.code);
      expected = rc === 0 ? 'ok' : rc === 1 || rc === 3 ? 'client_error' : 'server_error';
    } else if (r.protocol === 'redis') {
      expected = r.reply_type === 'error' ? 'server_error' : 'ok';
    } else {
      assert.equal(r.protocol, 'postgresql');
      expected = r.code === null ? 'ok' : r.error_class; // SQLSTATE table checked below for the codes used
      if (r.code !== null) assert.equal(r.error_class, 'client_error', `${r.id} SQLSTATE ${r.code}`);
    }
    assert.equal(r.error_class, expected, `${r.id} ${r.protocol} ${r.resource}`);
  }
  for (const r of truth.requests) {
    for (const child of r.child_requests ?? []) {
      assert.equal(truth.requests.find((x) => x.id === child)?.parent_request, r.id, `${r.id} -> ${child}`);
    }
  }
});

test('truth: the workload covers what the tests downstream need', () => {
  const classes = (p: string): Set<string> =>
    new Set(truth.requests.filter((r) => r.protocol === p).map((r) => r.error_class));
  assert.deepEqual(classes('http'), new Set(['ok', 'client_error', 'server_error']));
  assert.ok(classes('redis').has('server_error'));
  assert.ok(classes('postgresql').has('client_error'));
  assert.deepEqual(new Set(truth.dns_queries.map((q) => q.rcode)), new Set([0, 3, 5]));
  assert.ok(truth.connections.filter((c) => c.refused).length >= 2);
  assert.ok(truth.connections.some((c) => c.refused && c.cross_node));
  assert.ok(truth.connections.some((c) => c.dnat && c.cross_node && c.requests > 0));
  assert.ok(truth.connections.some((c) => c.retransmissions === '> 0'));
  assert.ok(truth.requests.some((r) => (r as { pipelined?: boolean }).pipelined));
});

test('truth: hops follow the topology (bridge, overlay, DNAT)', () => {
  const svcIps = new Set(truth.topology.services.filter((s) => s.type === 'ClusterIP').map((s) => s.ip));
  for (const c of truth.connections) {
    const names = c.hops.map((h) => `${h.node}/${h.interface}`);
    if (c.cross_node) {
      assert.equal(c.hops.length, 8, `${c.id}: ${names.join(' ')}`);
      assert.deepEqual(c.hops.map((h) => h.interface).slice(1, 7), ['cni0', 'vxlan0', 'eth0', 'eth0', 'vxlan0', 'cni0']);
      assert.deepEqual(c.hops.map((h) => h.encap !== null), [false, false, false, true, true, false, false, false]);
    } else {
      assert.equal(c.hops.length, 2, `${c.id}: ${names.join(' ')}`);
    }
    assert.equal(c.hops[0].dst_ip, c.server_ip);
    assert.equal(c.hops[c.hops.length - 1].dst_ip, c.backend_ip);
    assert.equal(c.dnat, svcIps.has(c.server_ip));
    for (const h of c.hops) assert.deepEqual([h.src_ip, h.src_port], [c.client_ip, c.client_port]);
  }
});

test('truth: per-interface and per-edge summaries add up from the connections', () => {
  for (const e of truth.expected.per_interface) {
    const here = truth.connections.filter((c) => c.hops.some((h) => h.node === e.node && h.interface === e.interface));
    const tcp = here.filter((c) => c.transport === 'tcp');
    assert.equal(e.tcp_connections, tcp.length, `${e.node}/${e.interface}`);
    assert.equal(e.tcp_refused, tcp.filter((c) => c.refused).length);
    assert.equal(e.udp_flows, here.length - tcp.length);
    assert.equal(e.requests, here.reduce((n, c) => n + c.requests, 0));
  }
  for (const e of truth.expected.per_edge) {
    const conns = truth.connections.filter(
      (c) => c.client_pod === e.client && c.server_pod === e.server && (c.l7 ?? 'tcp') === e.protocol && c.backend_port === e.port,
    );
    const reqs = conns.flatMap((c) => reqsByConn.get(c.id) ?? []);
    assert.equal(e.connections, conns.length);
    assert.equal(e.refused, conns.filter((c) => c.refused).length);
    assert.equal(e.requests, reqs.length);
    assert.equal(e.client_errors, reqs.filter((r) => r.error_class === 'client_error').length);
    assert.equal(e.server_errors, reqs.filter((r) => r.error_class === 'server_error').length);
    assert.equal(e.errors, e.client_errors + e.server_errors);
  }
  assert.equal(truth.expected.per_edge.reduce((n, e) => n + e.connections, 0), truth.connections.length);
});

// ------------------------------------------------------------------------------------------ tshark

// One tshark pass per file, all five started at once. Reassembly and sequence analysis are off: every
// packet appears once per interface it crossed, and tshark's own TCP analysis would take those copies for
// retransmissions. Each frame is dissected on its own, and retransmissions are counted below per
// interface from raw sequence numbers.
const FIELDS = [
  'frame.interface_id', 'frame.interface_name', 'sll.ifindex', 'ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport',
  'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.reset', 'tcp.flags.fin',
  'tcp.seq_raw', 'tcp.len', 'vxlan.vni', 'dns.id', 'dns.flags.response', 'dns.flags.rcode', 'http.request.uri',
  'http.response.code', 'frame.encap_type', 'frame.time_epoch', 'http.request.line', 'http.response.line',
] as const;
type Field = (typeof FIELDS)[number];
type Row = Record<Field, string>;

function tsharkFields(file: string): Promise<Row[]> {
  const args = ['-n', '-r', join(SAMPLES, file), '-o', 'tcp.desegment_tcp_streams:FALSE',
    '-o', 'tcp.analyze_sequence_numbers:FALSE', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
    ...FIELDS.flatMap((f) => ['-e', f])];
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`tshark on ${file} failed (is tshark installed?): ${err.message} ${stderr}`));
        return;
      }
      resolve(
        stdout
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => {
            const cols = l.split('\t');
            return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
          }),
      );
    });
  });
}

const nodeNames = truth.topology.nodes.map((n) => n.name);
const captureFiles = [...nodeNames.flatMap((n) => [`k8s-${n}.pcapng`, `k8s-${n}.any.pcap`]), 'k8s-both.pcapng'];
const passes = new Map(captureFiles.map((f) => [f, tsharkFields(f)] as const));
for (const p of passes.values()) p.catch(() => undefined); // reported by the test that awaits it

const all = (v: string): string[] => (v === '' ? [] : v.split(','));
const last = (v: string): string => all(v).at(-1) ?? '';
const isSet = (v: string): boolean => last(v) === '1' || last(v) === 'True';

/** What one observation point (node + interface) showed in one file; tuples in client->server orientation. */
interface Seen {
  syn: Set<string>; // SYNs without ACK
  synAck: Set<string>;
  rst: Set<string>; // RSTs sent by the server side
  dnsQuery: Map<string, number>; // tuple -> DNS id
  dnsRcode: Map<string, number>; // tuple + '#' + id -> rcode
  encap: Map<string, string>; // tuple -> "outerSrc>outerDst vni N port P"
  uris: Map<string, string[]>; // HTTP request targets in order
  codes: Map<string, number[]>; // HTTP response codes in order
  retrans: Map<string, number>; // data/FIN segments whose sequence range was already seen, both directions
  xidTimes: Map<string, number[]>; // X-Request-ID (request or echoed in the response) -> frame times, µs
  ranges: Map<string, [number, number][]>; // directed flow -> sequence ranges seen so far
}

function newSeen(): Seen {
  return {
    syn: new Set(), synAck: new Set(), rst: new Set(), dnsQuery: new Map(), dnsRcode: new Map(),
    encap: new Map(), uris: new Map(), codes: new Map(), retrans: new Map(), ranges: new Map(), xidTimes: new Map(),
  };
}

function epochUs(v: string): number {
  const [sec, frac = ''] = v.split('.');
  return Number(sec) * 1_000_000 + Number(frac.padEnd(6, '0').slice(0, 6));
}

function push<T>(m: Map<string, T[]>, k: string, v: T[]): void {
  m.set(k, [...(m.get(k) ?? []), ...v]);
}

/** Files each packet of a capture under its observation point. */
function observe(rows: Row[], pointOf: (r: Row) => string): Map<string, Seen> {
  const points = new Map<string, Seen>();
  for (const r of rows) {
    if (r['ip.src'] === '') continue; // ARP
    const point = pointOf(r);
    const seen = points.get(point) ?? newSeen();
    points.set(point, seen);
    const src = last(r['ip.src']);
    const dst = last(r['ip.dst']);
    let client = '';
    if (r['tcp.srcport'] !== '') {
      const sp = last(r['tcp.srcport']);
      const dp = last(r['tcp.dstport']);
      const fwd = `${src}:${sp}>${dst}:${dp}`;
      const rev = `${dst}:${dp}>${src}:${sp}`;
      const syn = isSet(r['tcp.flags.syn']);
      const ack = isSet(r['tcp.flags.ack']);
      if (syn && !ack) seen.syn.add(fwd);
      if (syn && ack) seen.synAck.add(rev);
      if (isSet(r['tcp.flags.reset'])) seen.rst.add(rev);
      if (r['http.request.uri'] !== '') push(seen.uris, fwd, all(r['http.request.uri']));
      if (r['http.response.code'] !== '') push(seen.codes, rev, all(r['http.response.code']).map(Number));
      const lines = `${r['http.request.line']} ${r['http.response.line']}`;
      for (const m of lines.matchAll(/X-Request-ID: ([\w-]+)/gi)) push(seen.xidTimes, m[1], [epochUs(r['frame.time_epoch'])]);
      // Retransmission = a segment carrying sequence space (data, SYN or FIN) already seen on this interface.
      const seq = Number(last(r['tcp.seq_raw']));
      const span = Number(last(r['tcp.len'])) + (syn ? 1 : 0) + (isSet(r['tcp.flags.fin']) ? 1 : 0);
      if (span > 0) {
        const ranges = seen.ranges.get(fwd) ?? [];
        seen.ranges.set(fwd, ranges);
        const end = seq + span;
        if (ranges.some(([a, b]) => seq < b && end > a)) {
          const conn = syn && !ack ? fwd : seen.syn.has(fwd) ? fwd : rev;
          seen.retrans.set(conn, (seen.retrans.get(conn) ?? 0) + 1);
        } else {
          ranges.push([seq, end]);
        }
      }
      client = syn && ack ? rev : fwd;
    } else if (r['dns.id'] !== '') {
      const fwd = `${src}:${last(r['udp.srcport'])}>${dst}:${last(r['udp.dstport'])}`;
      const rev = `${dst}:${last(r['udp.dstport'])}>${src}:${last(r['udp.srcport'])}`;
      if (!isSet(r['dns.flags.response'])) seen.dnsQuery.set(fwd, Number(r['dns.id']));
      else seen.dnsRcode.set(`${rev}#${Number(r['dns.id'])}`, Number(r['dns.flags.rcode']));
      client = isSet(r['dns.flags.response']) ? '' : fwd;
    }
    if (r['vxlan.vni'] !== '' && client !== '') {
      const outer = `${all(r['ip.src'])[0]}>${all(r['ip.dst'])[0]} vni ${r['vxlan.vni']} port ${all(r['udp.dstport'])[0]}`;
      if (isSet(r['tcp.flags.syn']) && !isSet(r['tcp.flags.ack'])) seen.encap.set(client, outer);
      if (r['dns.id'] !== '') seen.encap.set(client, outer);
    }
  }
  return points;
}

function interfacesOf(file: string): { id: number; node: string; name: string }[] {
  const f = truth.files.find((x) => x.file === file);
  assert.ok(f && Array.isArray(f.interfaces), `${file}: no interface list in the truth`);
  return f.interfaces as { id: number; node: string; name: string }[];
}

function pcapngPoints(file: string): (r: Row) => string {
  const list = interfacesOf(file);
  return (r) => {
    const i = list[Number(r['frame.interface_id'])];
    assert.ok(i, `${file}: packet on interface id ${r['frame.interface_id']}, which the truth does not list`);
    assert.equal(r['frame.interface_name'], i.name, `${file}: interface ${i.id} is not named ${i.name}`);
    return hopKey(i.node, i.name);
  };
}

function sll2Points(file: string, node: string): (r: Row) => string {
  const n = truth.topology.nodes.find((x) => x.name === node);
  assert.ok(n);
  return (r) => {
    assert.equal(r['frame.encap_type'], '210', `${file}: link type is not LINUX_SLL2 (wiretap encapsulation 210)`);
    const i = n.interfaces.find((x) => x.ifindex === Number(r['sll.ifindex']));
    assert.ok(i, `${file}: packet on ifindex ${r['sll.ifindex']}, which the truth does not list`);
    return hopKey(node, i.name);
  };
}

/** Every observation point of the file must show exactly the connections the truth routes through it. */
function checkFile(file: string, points: Map<string, Seen>, nodes: string[]): void {
  const expected = truth.expected.per_interface.filter((x) => nodes.includes(x.node));
  for (const key of points.keys()) {
    assert.ok(expected.some((e) => hopKey(e.node, e.interface) === key), `${file}: traffic on unexpected ${key}`);
  }
  for (const e of expected) {
    const key = hopKey(e.node, e.interface);
    const seen = points.get(key) ?? newSeen();
    const hops = truth.connections.flatMap((c) =>
      c.hops.filter((h) => h.node === e.node && h.interface === e.interface).map((h) => ({ c, h })),
    );
    const tcp = hops.filter((x) => x.c.transport === 'tcp');
    // The exact set of connection attempts, hence also their number, per interface.
    assert.deepEqual([...seen.syn].sort(), tcp.map((x) => tuple(x.h)).sort(), `${file} ${key}: SYN tuples`);
    assert.equal(seen.syn.size, e.tcp_connections, `${file} ${key}: TCP conversations with SYN`);
    let httpCarried = 0;
    for (const { c, h } of tcp) {
      const t = tuple(h);
      const what = `${file} ${key} ${c.id}`;
      if (c.refused) assert.ok(seen.rst.has(t) && !seen.synAck.has(t), `${what}: refused = SYN then RST, no SYN-ACK`);
      else assert.ok(seen.synAck.has(t), `${what}: SYN-ACK`);
      if (c.l7 === 'http') {
        const reqs = reqsByConn.get(c.id) ?? [];
        assert.deepEqual(seen.uris.get(t) ?? [], reqs.map((r) => r.resource), `${what}: HTTP requests`);
        assert.deepEqual(seen.codes.get(t) ?? [], reqs.map((r) => Number(r.status)), `${what}: HTTP statuses`);
        httpCarried += reqs.length;
        // The clients' own times bracket every packet of their requests, on every hop.
        for (const r of reqs) {
          const xid = (r as { x_request_id?: string }).x_request_id;
          if (!xid || !c.observed_by.startsWith('client')) continue;
          const times = seen.xidTimes.get(xid) ?? [];
          assert.ok(times.length >= 2, `${what} ${r.id}: request and response carrying ${xid}`);
          for (const ts of times) assert.ok(ts >= r.start_us && ts <= r.end_us, `${what} ${r.id}: packet at ${ts} outside the client's span`);
        }
      }
      const n = seen.retrans.get(t) ?? 0;
      if (c.retransmissions === '> 0') assert.ok(n > 0, `${what}: expected retransmissions`);
      else assert.equal(n, 0, `${what}: retransmissions nobody induced`);
    }
    const httpSeen = [...seen.uris.values()].reduce((n, l) => n + l.length, 0);
    assert.equal(httpSeen, httpCarried, `${file} ${key}: HTTP requests outside the truth`);
    const udp = hops.filter((x) => x.c.transport === 'udp');
    assert.deepEqual([...seen.dnsQuery.keys()].sort(), udp.map((x) => tuple(x.h)).sort(), `${file} ${key}: DNS flows`);
    for (const { c, h } of udp) {
      const q = truth.dns_queries.find((d) => d.connection === c.id);
      assert.ok(q);
      assert.equal(seen.dnsQuery.get(tuple(h)), q.transaction_id, `${file} ${key} ${c.id}: DNS id`);
      assert.equal(seen.dnsRcode.get(`${tuple(h)}#${q.transaction_id}`), q.rcode, `${file} ${key} ${c.id}: rcode`);
    }
    for (const { c, h } of hops) {
      const outer = seen.encap.get(tuple(h));
      if (h.encap) {
        const want = `${h.encap.outer_src_ip}>${h.encap.outer_dst_ip} vni ${h.encap.vni} port ${h.encap.outer_dst_port}`;
        assert.equal(outer, want, `${file} ${key} ${c.id}: VXLAN outer header`);
      } else {
        assert.equal(outer, undefined, `${file} ${key} ${c.id}: unexpected encapsulation`);
      }
    }
  }
}

for (const node of nodeNames) {
  test(`captures: ${node} pcapng (dumpcap, named interfaces) shows each connection on exactly its hops`, async () => {
    const file = `k8s-${node}.pcapng`;
    const rows = await passes.get(file)!;
    const ids = new Set(rows.map((r) => Number(r['frame.interface_id'])));
    assert.deepEqual([...ids].sort(), interfacesOf(file).map((i) => i.id), `${file}: every listed interface has packets`);
    checkFile(file, observe(rows, pcapngPoints(file)), [node]);
  });

  test(`captures: ${node} SLL2 any-capture (tcpdump, ifindex) shows each connection on exactly its hops`, async () => {
    const file = `k8s-${node}.any.pcap`;
    checkFile(file, observe(await passes.get(file)!, sll2Points(file, node)), [node]);
  });
}

test('captures: merged file keeps both nodes apart by interface id', async () => {
  const file = 'k8s-both.pcapng';
  checkFile(file, observe(await passes.get(file)!, pcapngPoints(file)), nodeNames);
});
