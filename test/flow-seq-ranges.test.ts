import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeqRanges, SeqVerdict } from '../src/engine/flow/seq-ranges';

// The sequence DeepFlow's own unit test (perf/tcp.rs session_peer_seq_no_assert) walks through.
test('sequence ranges classify segments as DeepFlow does', () => {
  const r = new SeqRanges();
  assert.equal(r.add(0, 0), SeqVerdict.NotCare);
  assert.equal(r.add(0, 1), SeqVerdict.NotCare);
  assert.equal(r.add(10, 10), SeqVerdict.NotCare, 'first segment is the baseline');
  assert.equal(r.add(20, 10), SeqVerdict.Continuous);
  assert.equal(r.add(10, 10), SeqVerdict.Retrans);
  assert.equal(r.add(20, 10), SeqVerdict.Retrans);
  assert.equal(r.add(40, 20), SeqVerdict.Ahead, 'a gap [30,40) opens');
  assert.equal(r.add(10, 21), SeqVerdict.Error, 'partial overlap');
  assert.equal(r.add(29, 5), SeqVerdict.Error);
  assert.equal(r.add(10, 20), SeqVerdict.Retrans);
  assert.equal(r.add(31, 4), SeqVerdict.OutOfOrder, 'lands inside the gap');
  assert.equal(r.add(30, 1), SeqVerdict.OutOfOrder, 'joins both neighbours');
  assert.equal(r.n, 2);
  assert.equal(r.add(35, 5), SeqVerdict.OutOfOrder, 'closes the last hole');
  assert.equal(r.n, 1);
  assert.equal(r.add(60, 100), SeqVerdict.Continuous);
});

test('at most 16 ranges: the two lowest merge, so old data then reads as retransmitted', () => {
  const r = new SeqRanges();
  for (let i = 1; i <= 16; i++) r.add(i * 100, 10);
  assert.equal(r.n, 15);
  assert.deepEqual([r.r[0], r.r[1]], [100, 210]);
  assert.equal(r.add(150, 10), SeqVerdict.Retrans);
});

test('sequence wrap-around resets the ranges instead of calling new data old', () => {
  const r = new SeqRanges();
  r.add(0xfffff000, 0x800);
  assert.equal(r.add(0xfffff800, 0x800), SeqVerdict.NotCare, 'a range crossing 2^32 is not judged');
  assert.equal(r.add(0x10, 100), SeqVerdict.NotCare, 'after the wrap, starts over');
  assert.equal(r.add(0x10 + 100, 50), SeqVerdict.Continuous);
  assert.equal(r.add(0xffffff00, 10), SeqVerdict.NotCare, 'stale data from before the wrap is ignored');
});
