// HPACK decoder (src/engine/l7/hpack.ts) against an independent encoder: the header blocks below were
// made once by the Python `hpack` package (4.2.0) encoding the listed fields in order through one
// encoder (dynamic table carried from block to block, Huffman on even blocks, a table size update to
// 256 before the last). The first block is RFC 7541 C.4.1. Then: what a capture that starts
// mid-connection sees (unknown dynamic entries are null, later insertions are known), malformed input,
// and the memory bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, MAX_FIELDS, MAX_STRING, MAX_TABLE_SIZE, huffmanDecode } from '../src/engine/l7/hpack';

const BLOCKS: { hex: string; fields: [string, string][] }[] = [
  {
    hex: '828684418cf1e3c2e5f23a6ba0ab90f4ff',
    fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  },
  {
    hex: '828684be58086e6f2d6361636865',
    fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  },
  {
    hex: '8387448b6242d275f01273b1b87ebfc05f8b1d75d0620d263d4c4d6564408825a849e95ba97d7f8925a849e95bb8e8b4bf40884d83216b1d85a93fa7001600e575c6c2f85c248d33248f34d3c58c41091e03217c8b46e8e4723742e3e2032cb215801f',
    fields: [[':method', 'POST'], [':scheme', 'https'], [':path', '/demo.Echo/Say'], [':authority', 'www.example.com'], ['content-type', 'application/grpc'], ['custom-key', 'custom-value'], ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']],
  },
  {
    hex: '88c0400b677270632d7374617475730135400c677270632d6d6573736167651675736572253230782532306e6f74253230666f756e64',
    fields: [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '5'], ['grpc-message', 'user%20x%20not%20found']],
  },
  {
    hex: '3fe10183448b6242d275f01273b1b87ebf418cf1e3c2e5f23a6ba0ab90f4ff408825a849e95ba97d7f8925a849e95bb8e8b4bf4085f2b507aa6fff8801f7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf',
    fields: [[':method', 'POST'], [':path', '/demo.Echo/Say'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'], ['x-long', 'z'.repeat(300)]],
  },
];

function decodeAll(d: HpackDecoder, hex: string): { ok: boolean; fields: [string | null, string | null][] } {
  const fields: [string | null, string | null][] = [];
  const b = Buffer.from(hex, 'hex');
  const ok = d.decode(b, 0, b.length, (n, v) => fields.push([n, v]));
  return { ok, fields };
}

test('hpack: five blocks from an independent encoder decode to its fields (static, dynamic, Huffman, size update)', () => {
  const d = new HpackDecoder(true);
  for (const [i, b] of BLOCKS.entries()) {
    const r = decodeAll(d, b.hex);
    assert.ok(r.ok, `block ${i} decodes`);
    assert.deepEqual(r.fields, b.fields, `block ${i}`);
  }
  assert.equal(d.maxSize, 256, 'the size update of the last block');
  assert.ok(d.size <= 256, `table size ${d.size} within 256 after the update`);
  assert.equal(d.unknownRefs, 0);
  assert.equal(d.errors, 0);
});

test('hpack: RFC 7541 C.4.1 is the first block (Huffman request)', () => {
  assert.equal(BLOCKS[0].hex, '828684418cf1e3c2e5f23a6ba0ab90f4ff');
  const d = new HpackDecoder(true);
  assert.deepEqual(decodeAll(d, BLOCKS[0].hex).fields[3], [':authority', 'www.example.com']);
  // One entry inserted: 10 + 15 + 32 octets.
  assert.equal(d.count, 1);
  assert.equal(d.size, 57);
});

test('hpack: mid-connection, references to entries inserted before the capture are null; new insertions are known', () => {
  const d = new HpackDecoder(false);
  // Block 1 alone: its :authority is dynamic entry 62, inserted by block 0 which the capture missed.
  const r1 = decodeAll(d, BLOCKS[1].hex);
  assert.ok(r1.ok);
  assert.deepEqual(r1.fields, [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [null, null],
    ['cache-control', 'no-cache'],
  ]);
  assert.equal(d.unknownRefs, 1);
  // Block 2 refers to the entry block 1 inserted (known now) and to the missed one (still null).
  const r2 = decodeAll(d, BLOCKS[2].hex);
  assert.ok(r2.ok);
  const names = r2.fields.map((f) => f[0]);
  assert.ok(names.includes('content-type') && names.includes('traceparent'), 'literal fields decoded');
  const authority = r2.fields.find((f) => f[0] === ':authority');
  assert.equal(authority, undefined, ':authority (entry of the missed block) is not known');
  assert.ok(r2.fields.some((f) => f[0] === null && f[1] === null), 'the unknown reference is reported as null');
  // Everything block 2 inserted is known from here on: block 3 (response) decodes fully.
  const r3 = decodeAll(d, BLOCKS[3].hex);
  assert.deepEqual(r3.fields, BLOCKS[3].fields);
});

test('hpack: malformed blocks return false, never throw (cut integer, cut string, index 0, bad Huffman, EOS)', () => {
  const bad = ['ff', '41', '4185', '80', '4082ffff01', '00ff', '4081ff8180'];
  for (const hex of bad) {
    const d = new HpackDecoder(true);
    assert.equal(decodeAll(d, hex).ok, false, hex);
  }
  // EOS (30 ones) inside a Huffman string is an error; valid padding (up to 7 ones) is not.
  assert.equal(huffmanDecode(Buffer.from('ffffffff', 'hex'), 0, 4), -1);
  assert.equal(huffmanDecode(Buffer.from('1f', 'hex'), 0, 1), 1, "'a' (00011) + 3 bits of padding");
});

test('hpack: memory bounds: table size never above its maximum, size updates clamped, strings and fields capped', () => {
  const d = new HpackDecoder(true);
  // 3000 literal-with-indexing fields with fresh 40-byte values: the table keeps within 4096 octets.
  const parts: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = `value-${i}`.padEnd(40, '.');
    parts.push(Buffer.from([0x40, 0x04]), Buffer.from('name'), Buffer.from([v.length]), Buffer.from(v));
  }
  const block = Buffer.concat(parts);
  let n = 0;
  assert.ok(d.decode(block, 0, block.length, () => n++));
  assert.equal(n, MAX_FIELDS, 'fields reported per block are capped');
  assert.ok(d.size <= 4096 && d.count === Math.floor(4096 / (4 + 40 + 32)), `size ${d.size}, ${d.count} entries`);
  // A size update far above the cap is clamped.
  const up = Buffer.from([0x3f, 0xe1, 0xff, 0xff, 0x0f]); // 31 + ... ≈ 33 M
  assert.ok(d.decode(up, 0, up.length, () => {}));
  assert.equal(d.maxSize, MAX_TABLE_SIZE);
  // A 100 000-octet value is kept cut to MAX_STRING; its full size still counts (larger than the table: it empties it).
  const long = 'q'.repeat(100000);
  const lit = Buffer.concat([Buffer.from([0x40, 0x01, 0x6b, 0x7f, 0xa1, 0x8c, 0x06]), Buffer.from(long)]); // 127 + 99873
  let value: string | null = null;
  assert.ok(d.decode(lit, 0, lit.length, (_n, v) => (value = v)));
  assert.equal((value as string | null)?.length, MAX_STRING);
  assert.equal(d.count, 0, 'an entry larger than the table empties it');
  // Size update to 0 empties the table and makes it fully known.
  const m = new HpackDecoder(false);
  assert.ok(m.decode(Buffer.from([0x20]), 0, 1, () => {}));
  assert.equal(m.unknownTail, false);
});
