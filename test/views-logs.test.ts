// The request log and the flow log against the samples' ground truth (samples/k8s.truth.json): one row
// per request / connection by default, at the server's hop; every hop's row with allHops, on exactly
// the interfaces the truth's hop paths name; filters give exactly the truth's matching subset; sorted
// pages go through the whole log without overlap or loss.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../src/shared/api';
import type { Store } from '../src/engine/store/store';
import { parseFilterText, Views } from '../src/engine/store/views';
import type { FilterClause, FlowRow, LogRequest, RequestRow } from '../src/shared/views';
import { importSamples, parsedProtocols, truth, truthRequests, type Req } from './views-helpers';
import { conn, hopName, interfaceNames, multiset, rowKey, truthCode, truthConnOf, truthKey, truthMethod, truthOf } from './views-truth';

const FILE = 'k8s-both.pcapng';
const ifName = interfaceNames(FILE);

describe(`request and flow logs of ${FILE}`, () => {
  let store: Store;
  let views: Views;
  let reqs: Req[];

  before(async () => {
    ({ store } = await importSamples(':memory:', [FILE]));
    views = new Views(store);
    reqs = truthRequests(await parsedProtocols(store));
  });
  after(async () => {
    await views?.close();
    await store?.close();
  });

  const requests = async (req: LogRequest = {}): Promise<{ total: number; rows: RequestRow[] }> => {
    const page = await views.requestLog({ grouping: 'ip', limit: 1000, ...req });
    assert.equal(page.rows.length, page.total, 'one page holds them all');
    return page;
  };
  const flows = async (req: LogRequest = {}): Promise<{ total: number; rows: FlowRow[] }> => {
    const page = await views.flowLog({ grouping: 'ip', limit: 1000, ...req });
    assert.equal(page.rows.length, page.total, 'one page holds them all');
    return page;
  };
  const filtered = (text: string[]): FilterClause[] => text.map(parseFilterText);

  test('one row per request: method, resource, code and status of each, as the truth has them', async () => {
    const page = await requests();
    assert.equal(page.total, reqs.length);
    assert.deepEqual(multiset(page.rows.map(rowKey)), multiset(reqs.map(truthKey)));
  });

  test('the row is the server side hop, and says on how many hops the request was seen', async () => {
    for (const row of (await requests()).rows) {
      const r = truthOf(row);
      const hops = conn(r).hops;
      assert.equal(row.hops, hops.length, `${r.id} seen on ${hops.map(hopName).join(', ')}`);
      assert.equal(ifName.get(row.ifIndex), hopName(hops[hops.length - 1]), `${r.id}: counted at the server's hop`);
      assert.equal(row.observationPoint, 's', r.id);
    }
  });

  test('allHops: every hop of every request, on the interfaces of its path', async () => {
    const page = await requests({ allHops: true });
    assert.equal(page.total, reqs.reduce((s, r) => s + conn(r).hops.length, 0));
    const seen = new Map<string, string[]>();
    for (const row of page.rows) {
      assert.equal(row.hops, 1);
      const r = truthOf(row);
      seen.set(r.id, [...(seen.get(r.id) ?? []), ifName.get(row.ifIndex) ?? `if ${row.ifIndex}`]);
      // Every copy is the same request: same method, resource, code, status (addresses may be NATed).
      assert.deepEqual([row.requestType, row.requestResource, row.responseStatus], [truthMethod(r), r.resource, r.error_class], r.id);
    }
    for (const r of reqs) assert.deepEqual((seen.get(r.id) ?? []).sort(), conn(r).hops.map(hopName).sort(), `${r.id}: its hops`);
  });

  test('network path: every hop of a request, in the order of its path, from any of its rows', async () => {
    const chosenRows = (await requests()).rows;
    const allRows = (await requests({ allHops: true })).rows;
    let ordered = 0;
    for (const row of chosenRows) {
      const r = truthOf(row);
      const want = conn(r).hops.map(hopName);
      const path = await views.requestPath({ requestId: row.requestId });
      const got = path.hops.map((h) => ifName.get(h.ifIndex) ?? `if ${h.ifIndex}`);
      assert.deepEqual([...got].sort(), [...want].sort(), `${r.id}: its hops`);
      // In time order; where two hops share a microsecond the truth's order may differ.
      for (let k = 1; k < path.hops.length; k++) assert.ok(path.hops[k].startTime >= path.hops[k - 1].startTime, `${r.id}: hop ${k} in time order`);
      if (JSON.stringify(got) === JSON.stringify(want)) ordered++;
      // The row the log shows is the one marked chosen; every hop is the same request.
      assert.deepEqual(path.hops.filter((h) => h.chosen).map((h) => h.requestId), [row.requestId], r.id);
      for (const h of path.hops) assert.deepEqual([h.responseStatus, h.clientPort === row.clientPort || h.serverPort === row.clientPort], [r.error_class, true], r.id);
      // The interface names come from the capture: the hop's name is the truth's (after the node).
      for (const h of path.hops) assert.equal(ifName.get(h.ifIndex)?.split('/')[1], h.interfaceName, `${r.id}: interface name`);
    }
    assert.ok(ordered >= chosenRows.length * 0.9, `${ordered} of ${chosenRows.length} paths exactly in the truth's hop order`);
    // Asked from another hop's row, the same path.
    const other = allRows.find((x) => x.observationPoint !== 's' && truthOf(x).connection === truthOf(chosenRows[0]).connection)!;
    const a = await views.requestPath({ requestId: chosenRows.find((x) => truthOf(x).id === truthOf(other).id)!.requestId });
    const b = await views.requestPath({ requestId: other.requestId });
    assert.deepEqual(b.hops, a.hops);
    assert.deepEqual((await views.requestPath({ requestId: 987_654_321 })).hops, [], 'no such request: no hops');
  });

  test("filters give exactly the truth's matching requests (text parsed as the CLI does)", async () => {
    const cases: [string[], (r: Req) => boolean][] = [
      [['response_status in (client_error, server_error)'], (r) => r.error_class !== 'ok'],
      [['response_status != ok'], (r) => r.error_class !== 'ok'],
      [['response_status = server_error'], (r) => r.error_class === 'server_error'],
      [['request_resource contains /users'], (r) => r.resource.includes('/users')],
      [['endpoint = /items/{id}'], (r) => r.protocol === 'http' && /^\/items\/\d+$/.test(r.resource)],
      [['response_code >= 400'], (r) => typeof truthCode(r) === 'number' && (truthCode(r) as number) >= 400],
      [['l7_protocol = http', 'response_status = client_error'], (r) => r.protocol === 'http' && r.error_class === 'client_error'],
      [['server_port = 6379'], (r) => conn(r).backend_port === 6379],
      [[`client_ip = "${truth.topology.pods.find((p) => p.name === 'api')!.ip}"`], (r) => conn(r).client_pod === 'api'],
      [['request_type in (GET, POST)'], (r) => r.protocol === 'http' || (r.protocol === 'redis' && r.method === 'GET')],
      // hops: how many observation points saw the request (8 for a cross-node request on k8s-both).
      [['hops = 8'], (r) => conn(r).hops.length === 8],
      [['hops < 8'], (r) => conn(r).hops.length < 8],
    ];
    for (const p of await parsedProtocols(store)) cases.push([[`l7_protocol = '${p}'`], (r) => r.protocol === p]);
    for (const [text, want] of cases) {
      const expected = reqs.filter(want);
      assert.ok(expected.length > 0, `${text.join(' AND ')} matches something in the truth`);
      const page = await requests({ filter: filtered(text) });
      assert.equal(page.total, expected.length, text.join(' AND '));
      assert.deepEqual(multiset(page.rows.map(rowKey)), multiset(expected.map(truthKey)), text.join(' AND '));
    }
    // With allHops the same filter keeps every hop of the matching requests.
    const failing = reqs.filter((r) => r.error_class !== 'ok');
    const hopsPage = await requests({ allHops: true, filter: filtered(['response_status in (client_error, server_error)']) });
    assert.equal(hopsPage.total, failing.reduce((s, r) => s + conn(r).hops.length, 0));
  });

  test('bad filters are refused with a message that says what is wrong', async () => {
    assert.throws(() => parseFilterText('bogus'), /expected "field op value"/);
    assert.throws(() => parseFilterText('response_status in ()'), /needs values/);
    const refused = async (filter: FilterClause[], message: RegExp) => {
      await assert.rejects(views.requestLog({ filter }), (err: unknown) => err instanceof ApiError && err.code === 'bad_request' && message.test(err.message));
    };
    await refused([{ field: 'no_such_field', op: '=', value: 1 }], /unknown request field "no_such_field"/);
    await refused(filtered(['duration > fast']), /duration takes numbers/);
    await refused(filtered(['duration contains 5']), /'contains' applies to text fields/);
  });

  test('sorted by duration, longest first; by default by start time', async () => {
    const byDuration = (await requests({ sort: { field: 'duration', desc: true } })).rows;
    assert.equal(byDuration.length, reqs.length);
    for (let i = 1; i < byDuration.length; i++) assert.ok(byDuration[i - 1].duration! >= byDuration[i].duration!, `row ${i}`);
    const byStart = (await requests()).rows;
    for (let i = 1; i < byStart.length; i++) assert.ok(byStart[i - 1].startTime <= byStart[i].startTime, `row ${i}`);
    assert.deepEqual(multiset(byDuration.map(rowKey)), multiset(byStart.map(rowKey)));
  });

  test('offset/limit page through the log without overlap or loss, the total the same on every page', async () => {
    for (const sort of [undefined, { field: 'duration', desc: true }, { field: 'response_status' }]) {
      const whole = (await requests({ sort })).rows.map((r) => r.requestId);
      const size = 7;
      const paged: number[] = [];
      for (let offset = 0; offset < reqs.length + size; offset += size) {
        const page = await views.requestLog({ grouping: 'ip', sort, offset, limit: size });
        assert.equal(page.total, reqs.length);
        assert.equal(page.offset, offset);
        assert.equal(page.rows.length, Math.max(0, Math.min(size, reqs.length - offset)), `page at ${offset}`);
        paged.push(...page.rows.map((r) => r.requestId));
      }
      assert.deepEqual(paged, whole, `sort ${JSON.stringify(sort)}`);
      assert.equal(new Set(paged).size, reqs.length);
    }
    const none = await views.requestLog({ limit: 0 });
    assert.deepEqual([none.total, none.rows.length], [reqs.length, 0]);
    await assert.rejects(views.requestLog({ limit: 1001 }), /limit is 0 to 1000/);
  });

  test('flow log: one row per connection of the truth, at the server side hop, with its hop count and close type', async () => {
    const page = await flows();
    assert.equal(page.total, truth.connections.length);
    const seen = new Set<string>();
    for (const row of page.rows) {
      const c = truthConnOf(row);
      seen.add(c.id);
      assert.equal(row.protocol, c.transport === 'tcp' ? 6 : 17, c.id);
      assert.deepEqual([row.serverIp, row.serverPort], [c.backend_ip, c.backend_port], c.id);
      assert.equal(row.hops, c.hops.length, c.id);
      assert.equal(ifName.get(row.ifIndex), hopName(c.hops[c.hops.length - 1]), `${c.id}: the server's hop`);
      // close_type (SPEC.md): refused = the SYN answered by RST, 15 "server direct RST"; the other TCP
      // connections closed with FIN (fin_first), 1 "normal"; UDP has no close, 3 "timeout".
      const expected = c.refused ? 15 : c.transport === 'tcp' ? 1 : 3;
      assert.equal(row.closeType, expected, `${c.id} (${c.refused ? 'refused' : c.transport})`);
      assert.equal(row.l7Protocol, c.l7 ?? '', c.id);
    }
    assert.equal(seen.size, truth.connections.length);

    const refused = await flows({ filter: filtered(['close_type = 15']) });
    assert.deepEqual(refused.rows.map((r) => truthConnOf(r).id).sort(), truth.connections.filter((c) => c.refused).map((c) => c.id).sort());
    const udp = await flows({ filter: filtered(['protocol = 17']) });
    assert.equal(udp.total, truth.connections.filter((c) => c.transport === 'udp').length);
  });

  test('flow log, allHops: each connection on exactly the interfaces of its path', async () => {
    const page = await flows({ allHops: true });
    assert.equal(page.total, truth.connections.reduce((s, c) => s + c.hops.length, 0));
    const seen = new Map<string, string[]>();
    for (const row of page.rows) {
      const c = truthConnOf(row);
      seen.set(c.id, [...(seen.get(c.id) ?? []), ifName.get(row.ifIndex) ?? `if ${row.ifIndex}`]);
    }
    for (const c of truth.connections) assert.deepEqual((seen.get(c.id) ?? []).sort(), c.hops.map(hopName).sort(), c.id);
  });
});
