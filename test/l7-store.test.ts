// Request records into the DuckDB store (real DuckDB, in memory): the accessor map matches the requests
// table column for column, NULLs stay NULL, and SQL over the rows gives back what the engine produced —
// for the samples and for the edge captures (lone responses, timeouts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Store } from '../src/engine/store/store';
import { REQUEST_ACCESSORS } from '../src/engine/store/accessors';
import type { RequestRecord } from '../src/shared/records';
import { SAMPLES, runCapture } from './l7-helpers';

async function store(records: RequestRecord[]): Promise<Store> {
  const s = await Store.open(':memory:');
  const first = s.allocateRequestIds(records.length);
  const w = await s.requestWriter();
  records.forEach((r, i) => w.add({ ...r, requestId: first + i }));
  assert.equal(w.close(), records.length);
  return s;
}

test('store: REQUEST_ACCESSORS names every column of requests, no more', async () => {
  const s = await Store.open(':memory:');
  const cols = await s.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'requests' ORDER BY ordinal_position`);
  assert.deepEqual(new Set(cols.rows.map((r) => r[0])), new Set(Object.keys(REQUEST_ACCESSORS)));
  await s.close();
});

test('store: the samples\' request records round-trip through the requests table', async () => {
  const { records } = await runCapture(join(SAMPLES, 'k8s-both.pcapng'));
  assert.ok(records.length > 100);
  const s = await store(records);
  const n = await s.query(`SELECT count(*)::INTEGER, count(DISTINCT request_id)::INTEGER FROM requests`);
  assert.deepEqual(n.rows[0], [records.length, records.length]);
  // Per protocol and status, as RED would count them.
  const byStatus = await s.query(
    `SELECT l7_protocol, response_status, count(*)::INTEGER FROM requests GROUP BY ALL ORDER BY ALL`,
  );
  const expected = new Map<string, number>();
  for (const r of records) expected.set(`${r.l7Protocol}|${r.responseStatus}`, (expected.get(`${r.l7Protocol}|${r.responseStatus}`) ?? 0) + 1);
  assert.deepEqual(new Map(byStatus.rows.map((r) => [`${r[0]}|${r[1]}`, r[2]])), expected);
  // Every column of one row comes back as written (BIGINTs as bigint, NULLs as null).
  const sample = records.find((r) => r.traceId !== null && r.l7Protocol === 'http')!;
  const cols = Object.keys(REQUEST_ACCESSORS);
  const row = await s.query(`SELECT ${cols.join(', ')} FROM requests WHERE req_tcp_seq = ${sample.reqTcpSeq} AND if_index = ${sample.ifIndex}`);
  assert.equal(row.rows.length, 1);
  cols.forEach((c, i) => {
    let want = REQUEST_ACCESSORS[c]({ ...sample, requestId: (row.rows[0][0] as bigint | number) as number });
    let got = row.rows[0][i];
    if (typeof got === 'bigint') got = Number(got);
    if (c === 'request_id') want = Number(got);
    assert.deepEqual(got, want, c);
  });
  // DNS rows keep NULL where UDP has no sequence number; rows of TCP protocols never do; HTTP rows
  // always have a version.
  const nulls = await s.query(
    `SELECT l7_protocol, count(*) FILTER (WHERE req_tcp_seq IS NULL)::INTEGER, count(*) FILTER (WHERE version IS NULL)::INTEGER FROM requests GROUP BY 1 ORDER BY 1`,
  );
  const dnsRows = records.filter((r) => r.l7Protocol === 'dns').length;
  assert.deepEqual(nulls.rows.map((r) => r[0]), ['dns', 'http', 'postgresql', 'redis']);
  assert.deepEqual(nulls.rows[0], ['dns', dnsRows, dnsRows]);
  assert.deepEqual(nulls.rows[1], ['http', 0, 0]);
  for (const r of nulls.rows.slice(2)) assert.equal(r[1], 0, `${r[0]}: req_tcp_seq`);
  await s.close();
});

test('store: lone responses and timeouts keep their NULL request or response fields', async () => {
  const lone: RequestRecord = {
    requestId: 0, flowId: 7, captureId: 1, ifIndex: 2, observationPoint: 'rest', startTime: 1_700_000_000_000_000,
    endTime: 1_700_000_000_000_100, duration: null, l7Protocol: 'http', version: '1.1', requestType: null,
    requestDomain: null, requestResource: null, endpoint: null, responseStatus: 'ok', responseCode: 200,
    responseException: null, responseResult: null, traceId: null, spanId: null, parentSpanId: null,
    xRequestId0: null, xRequestId1: 'x', reqTcpSeq: null, respTcpSeq: 4294967295, requestLength: null,
    responseLength: 12, clientIp: '10.0.0.1', serverIp: '10.0.0.2', clientPort: 40000, serverPort: 80, signalSource: 'packet',
  };
  const timeout: RequestRecord = { ...lone, requestType: 'GET', requestResource: '/', responseStatus: 'timeout', responseCode: null, respTcpSeq: null, reqTcpSeq: 0, responseLength: null, xRequestId1: null };
  const s = await store([lone, timeout]);
  const r = await s.query(`SELECT response_status, duration, request_type, response_code, req_tcp_seq, resp_tcp_seq FROM requests ORDER BY response_status`);
  assert.deepEqual(r.rows, [
    ['ok', null, null, 200, null, 4294967295n],
    ['timeout', null, 'GET', null, 0n, null],
  ]);
  await s.close();
});
