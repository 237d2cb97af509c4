// HTTP and DNS requests of the project's samples (real nginx, dnsmasq and python clients in network
// namespaces, samples/generate.sh) against the generator's ground truth: every request appears exactly
// once per interface it crossed, paired right (pipelining included), with the method, resource, status,
// code, error class, x-request-id and trace id the clients sent and saw, inside the client's own time
// window, and with the same TCP sequence numbers on every hop. tshark's `-z http,tree` / `-z dns,tree`
// per interface must count the same requests, responses and status codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { RequestRecord } from '../src/shared/records';
import { loadTruth, type Truth } from '../samples/truth';
import { SAMPLES, runCapture } from './l7-helpers';

const truth = loadTruth();
const L7 = new Set(['http', 'dns']);

/** Observation points of a file: if_index as Flowscope keys it → node/interface, and tshark's filter. */
function pointsOf(file: Truth['files'][number]): { ifIndex: number; node: string; name: string; filter: string }[] {
  if (Array.isArray(file.interfaces)) {
    return file.interfaces.map((i) => ({ ifIndex: i.id, node: i.node, name: i.name, filter: `frame.interface_id==${i.id}` }));
  }
  const node = truth.topology.nodes.find((n) => n.name === file.node)!;
  return node.interfaces.map((i) => ({ ifIndex: i.ifindex, node: node.name, name: i.name, filter: `sll.ifindex==${i.ifindex}` }));
}

const tuple = (a: string, ap: number, b: string, bp: number): string => `${a}:${ap}>${b}:${bp}`;

interface Tree {
  httpRequests: number;
  httpResponses: number;
  codes: Record<string, number>;
  methods: Record<string, number>;
  dnsQueries: number;
  dnsResponses: number;
  rcodes: Record<string, number>;
}

/** tshark's HTTP and DNS statistics trees for the packets of one interface (each frame on its own). */
function tsharkTree(path: string, filter: string): Promise<Tree> {
  const args = ['-n', '-r', path, '-o', 'tcp.desegment_tcp_streams:FALSE', '-o', 'tcp.analyze_sequence_numbers:FALSE', '-q',
    '-z', `http,tree,${filter}`, '-z', `dns,tree,${filter}`];
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, out) => {
      if (err) return reject(err);
      const t: Tree = { httpRequests: 0, httpResponses: 0, codes: {}, methods: {}, dnsQueries: 0, dnsResponses: 0, rcodes: {} };
      let block = '';
      let section = '';
      for (const line of out.split('\n')) {
        if (line.startsWith('HTTP/Packet Counter')) block = 'http';
        else if (line.startsWith('DNS:')) block = 'dns';
        const m = /^( *)(.+?)\s{2,}(\d+)\s/.exec(line);
        if (!m) continue;
        const [, indent, item, n] = m;
        const count = Number(n);
        if (block === 'http') {
          if (item === 'HTTP Request Packets') section = 'req';
          else if (item === 'HTTP Response Packets') section = 'resp';
          else if (item === 'Other HTTP Packets') section = '';
          if (item === 'HTTP Request Packets') t.httpRequests = count;
          else if (item === 'HTTP Response Packets') t.httpResponses = count;
          else if (indent.length === 3 && section === 'resp' && /^\d{3} /.test(item) && count > 0) t.codes[item.slice(0, 3)] = count;
          else if (indent.length === 2 && section === 'req' && count > 0) t.methods[item] = count;
        } else if (block === 'dns') {
          if (indent.length === 1) section = item;
          else if (indent.length === 2 && section === 'rcode' && count > 0) t.rcodes[item] = count;
          else if (indent.length === 2 && section === 'Query/Response') {
            if (item === 'Query') t.dnsQueries = count;
            if (item === 'Response') t.dnsResponses = count;
          }
        }
      }
      resolve(t);
    });
  });
}

/** One engine run per file, shared by both tests of the file. */
const runs = new Map<string, ReturnType<typeof runCapture>>();
function run(file: string): ReturnType<typeof runCapture> {
  let r = runs.get(file);
  if (r === undefined) {
    r = runCapture(join(SAMPLES, file));
    runs.set(file, r);
  }
  return r;
}

const RCODE_NAMES: Record<number, string> = { 0: 'No error', 1: 'Format error', 2: 'Server failure', 3: 'No such name', 5: 'Refused' };

function traceIdOf(traceparent: string | null | undefined): string | null {
  return traceparent ? traceparent.split('-')[1] : null;
}

for (const file of truth.files) {
  test(`samples ${file.file}: every HTTP and DNS request once per interface it crossed, paired and classified as the clients saw it`, async () => {
    const { records, engine } = await run(file.file);
    assert.equal(engine.stats.gaps, 0, 'the committed captures lost nothing');
    assert.equal(engine.stats.parserErrors, 0);
    const points = pointsOf(file);
    let checkedPoints = 0;
    let checkedRequests = 0;
    const seqs = new Map<string, Set<string>>(); // truth request → "reqSeq/respSeq" over all hops
    for (const pt of points) {
      const expected = truth.expected.per_interface.find((e) => e.node === pt.node && e.interface === pt.name);
      assert.ok(expected, `${pt.node}/${pt.name} in the truth`);
      // Every protocol's rows at this point as the truth counts them (Redis and PostgreSQL are checked
      // request by request in their own tests; HTTP and DNS below).
      const all = records.filter((r) => r.ifIndex === pt.ifIndex);
      const byProto: Record<string, number> = {};
      for (const r of all) byProto[r.l7Protocol] = (byProto[r.l7Protocol] ?? 0) + 1;
      assert.deepEqual(byProto, expected.requests_by_protocol, `${pt.node}/${pt.name}: rows by protocol`);
      const here = all.filter((r) => L7.has(r.l7Protocol));
      const want = (expected.requests_by_protocol.http ?? 0) + (expected.requests_by_protocol.dns ?? 0);
      assert.equal(here.length, want, `${pt.node}/${pt.name}: ${here.length} rows, truth ${want}`);
      // Per connection crossing this point, its requests in order.
      const groups = new Map<string, RequestRecord[]>();
      for (const r of here) {
        const k = tuple(r.clientIp, r.clientPort, r.serverIp, r.serverPort);
        groups.set(k, [...(groups.get(k) ?? []), r]);
      }
      for (const g of groups.values()) g.sort((a, b) => a.startTime - b.startTime);
      for (const c of truth.connections) {
        if (c.l7 === null || !L7.has(c.l7)) continue;
        const hop = c.hops.find((h) => h.node === pt.node && h.interface === pt.name);
        if (!hop) continue;
        const reqs = truth.requests.filter((r) => r.connection === c.id);
        const got = groups.get(tuple(hop.src_ip, hop.src_port, hop.dst_ip, hop.dst_port)) ?? [];
        assert.equal(got.length, reqs.length, `${pt.node}/${pt.name} ${c.id}: rows`);
        reqs.forEach((t, i) => {
          const r = got[i];
          const what = `${pt.node}/${pt.name} ${t.id} ${t.method} ${t.resource}`;
          assert.equal(r.l7Protocol, t.protocol, what);
          assert.equal(r.requestType, t.method, what);
          assert.equal(r.requestResource, t.resource, what);
          assert.equal(r.responseCode, t.code, what);
          assert.equal(r.responseStatus, t.error_class, what);
          assert.ok(r.duration !== null && r.duration >= 0, `${what}: paired`);
          // nginx's access-log times (the proxy's upstream requests) are ms and from its cached clock:
          // allow two ticks.
          const tol = 2 * (t.time_resolution_us ?? 0);
          assert.ok(r.startTime >= t.start_us - tol && r.endTime <= t.end_us + tol,
            `${what}: [${r.startTime}, ${r.endTime}] outside the client's [${t.start_us}, ${t.end_us}]`);
          if (t.protocol === 'http') {
            assert.equal(r.xRequestId0, t.x_request_id, what);
            if (t.response_x_request_id !== undefined) assert.equal(r.xRequestId1, t.response_x_request_id, `${what}: paired with its own response`);
            if (t.host) assert.equal(r.requestDomain, t.host, what);
            assert.equal(r.version, t.version, what);
            assert.equal(r.traceId, traceIdOf(t.traceparent), what);
            if (t.response_body_bytes !== undefined) assert.equal(r.responseLength, t.response_body_bytes, what);
            assert.ok(r.reqTcpSeq !== null && r.respTcpSeq !== null, what);
          } else {
            assert.equal(r.requestLength, t.request_bytes, what);
            assert.equal(r.responseLength, t.response_bytes, what);
            for (const a of t.answers ?? []) assert.ok(r.responseResult?.includes(`${a.type}=${a.value} TTL=${a.ttl}`), `${what}: ${r.responseResult}`);
          }
          const s = seqs.get(t.id) ?? new Set<string>();
          s.add(`${r.reqTcpSeq}/${r.respTcpSeq}`);
          seqs.set(t.id, s);
          checkedRequests++;
        });
      }
      checkedPoints++;
    }
    assert.ok(checkedPoints >= 6 && checkedRequests >= 30, `${checkedPoints} interfaces, ${checkedRequests} request rows checked`);
    // One request, one pair of sequence numbers on every hop (what joins hops, SPEC.md "Network path").
    for (const [id, s] of seqs) assert.equal(s.size, 1, `${id}: ${[...s].join(' ')}`);
  });

  // tshark once per interface is slow (~1 s each): the merged pcapng (all 12 dumpcap interfaces of both
  // nodes) and one SLL2 file cover both readers and every interface.
  if (file.file !== 'k8s-both.pcapng' && file.file !== 'k8s-node1.any.pcap') continue;
  test(`samples ${file.file}: tshark's http,tree and dns,tree per interface count the same requests, responses and codes`, async () => {
    const path = join(SAMPLES, file.file);
    const { records } = await run(file.file);
    const points = pointsOf(file);
    const trees = await Promise.all(points.map((pt) => tsharkTree(path, pt.filter)));
    points.forEach((pt, k) => {
      const t = trees[k];
      const here = records.filter((r) => r.ifIndex === pt.ifIndex);
      const http = here.filter((r) => r.l7Protocol === 'http');
      const dns = here.filter((r) => r.l7Protocol === 'dns');
      const where = `${pt.node}/${pt.name}`;
      assert.equal(http.filter((r) => r.requestType !== null).length, t.httpRequests, `${where} HTTP requests`);
      assert.equal(http.filter((r) => r.responseCode !== null).length, t.httpResponses, `${where} HTTP responses`);
      const codes: Record<string, number> = {};
      for (const r of http) if (r.responseCode !== null) codes[String(r.responseCode)] = (codes[String(r.responseCode)] ?? 0) + 1;
      assert.deepEqual(codes, t.codes, `${where} status codes`);
      const methods: Record<string, number> = {};
      for (const r of http) if (r.requestType !== null) methods[r.requestType] = (methods[r.requestType] ?? 0) + 1;
      assert.deepEqual(methods, t.methods, `${where} methods`);
      assert.equal(dns.length, t.dnsQueries, `${where} DNS queries`);
      assert.equal(dns.filter((r) => r.responseCode !== null).length, t.dnsResponses, `${where} DNS responses`);
      // tshark's rcode branch counts every DNS packet, queries (rcode 0) included.
      const rcodes: Record<string, number> = dns.length > 0 ? { 'No error': dns.length } : {};
      for (const r of dns) if (r.responseCode !== null) {
        const n = RCODE_NAMES[r.responseCode] ?? String(r.responseCode);
        rcodes[n] = (rcodes[n] ?? 0) + 1;
      }
      assert.deepEqual(rcodes, t.rcodes, `${where} DNS rcodes`);
    });
    assert.ok(trees.some((t) => t.httpRequests > 0) && trees.some((t) => t.dnsQueries > 0));
  });
}
