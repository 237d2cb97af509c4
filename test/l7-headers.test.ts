// Endpoint folding and trace headers on the examples of their specifications (W3C Trace Context, B3,
// Jaeger, SkyWalking's cross-process protocol v3) and their malformed neighbours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldPath } from '../src/engine/l7/endpoint';
import { TraceHeaders, fromB3Multi, fromB3Single, fromSw8, fromTraceparent, fromUber, resolveTrace } from '../src/engine/l7/trace-context';

test('endpoint: ids folded (numbers, UUIDs, long hex), words and short hex kept, query and fragment dropped', () => {
  const cases: [string, string][] = [
    ['/users/123', '/users/{id}'],
    ['/users/123/orders?page=2', '/users/{id}/orders'],
    ['/v1/items/550e8400-e29b-41d4-a716-446655440000#x', '/v1/items/{id}'],
    ['/blobs/5f2b9c0a7e1d4f3b8a6c', '/blobs/{id}'],
    ['/api/v2/cafe', '/api/v2/cafe'], // v2: a word with a digit, not an id
    ['/static/deadbeefdeadbeef', '/static/deadbeefdeadbeef'], // hex-looking word without digits
    ['/static/abc123', '/static/abc123'], // short: kept
    ['/', '/'],
    ['http://example.com:8080/a/42?q', '/a/{id}'],
    ['*', '*'],
    ['example.com:443', 'example.com:443'],
  ];
  for (const [path, want] of cases) assert.equal(foldPath(path), want, path);
  assert.ok(foldPath('/' + 'a'.repeat(5000)).length <= 512);
});

test('trace context: W3C traceparent (spec example); invalid version, zero ids and bad shapes ignored', () => {
  assert.deepEqual(fromTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: null,
  });
  assert.equal(fromTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), null);
  assert.equal(fromTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), null);
  assert.equal(fromTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'), null);
  assert.equal(fromTraceparent('00-4bf92f35-00f067aa0ba902b7-01'), null);
});

test('trace context: B3 single (with and without parent, sampling only) and multi header', () => {
  assert.deepEqual(fromB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90'), {
    traceId: '80f198ee56343ba864fe8b2a57d3eff7', spanId: 'e457b5a2e4d86bd1', parentSpanId: '05e3ac9a4f6e3b90',
  });
  assert.deepEqual(fromB3Single('a3ce929d0e0e4736-e457b5a2e4d86bd1'), { traceId: 'a3ce929d0e0e4736', spanId: 'e457b5a2e4d86bd1', parentSpanId: null });
  assert.equal(fromB3Single('0'), null);
  assert.equal(fromB3Single('d'), null);
  assert.deepEqual(fromB3Multi('463ac35c9f6413ad48485a3953bb6124', 'a2fb4a1d1a96d312', null), {
    traceId: '463ac35c9f6413ad48485a3953bb6124', spanId: 'a2fb4a1d1a96d312', parentSpanId: null,
  });
  assert.equal(fromB3Multi('not-hex', 'a2fb4a1d1a96d312', null), null);
});

test('trace context: Jaeger uber-trace-id (plain and URL-encoded, root parent 0)', () => {
  assert.deepEqual(fromUber('5f0e4b1c9a2d3e4f:7a8b9c0d1e2f3a4b:0:1'), { traceId: '5f0e4b1c9a2d3e4f', spanId: '7a8b9c0d1e2f3a4b', parentSpanId: null });
  assert.deepEqual(fromUber('5f0e4b1c9a2d3e4f%3A7a8b9c0d1e2f3a4b%3A1a2b3c4d5e6f7a8b%3A1'), {
    traceId: '5f0e4b1c9a2d3e4f', spanId: '7a8b9c0d1e2f3a4b', parentSpanId: '1a2b3c4d5e6f7a8b',
  });
  assert.equal(fromUber('0:7a8b9c0d1e2f3a4b:0:1'), null);
  assert.equal(fromUber('5f0e:7a8b'), null);
});

test('trace context: SkyWalking sw8 (DeepFlow\'s span form segment-span); bad base64 ignored', () => {
  const v = '1-MWYyZDRiZjQ3YmY3MTFlYWI3OTRhY2RlNDgwMDExMjI=-NWRmYjI1YzgxYzcwMTFlYWJhM2ZhY2RlNDgwMDExMjI=-0-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaS92MS9oZWFsdGg=-ZXhhbXBsZS5jb206ODA4MA==';
  assert.deepEqual(fromSw8(v), {
    traceId: '1f2d4bf47bf711eab794acde48001122', spanId: '5dfb25c81c7011eaba3facde48001122-0', parentSpanId: null,
  });
  assert.equal(fromSw8('1-!!!-x-0'), null);
  assert.equal(fromSw8('2-a-b-0'), null);
});

test('trace context: traceparent wins over sw8, b3 and uber when several are present', () => {
  const h = new TraceHeaders();
  h.uberTraceId = '5f0e4b1c9a2d3e4f:7a8b9c0d1e2f3a4b:0:1';
  h.b3 = '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1';
  assert.equal(resolveTrace(h)!.traceId, '80f198ee56343ba864fe8b2a57d3eff7');
  h.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  assert.equal(resolveTrace(h)!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  h.traceparent = 'garbage';
  assert.equal(resolveTrace(h)!.traceId, '80f198ee56343ba864fe8b2a57d3eff7', 'a malformed header falls through to the next');
  h.reset();
  assert.equal(resolveTrace(h), null);
});
