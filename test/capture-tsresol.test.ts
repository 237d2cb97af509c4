// pcapng timestamp units: if_tsresol in decimal (10^-3 .. 10^-15) and binary (2^-20, 2^-40) form, and
// if_tsoffset. The expected µs/ns come from how the file was written; tshark cross-checks the
// resolutions it supports.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PcapngWriter, readAll, tempDir, tsharkFrames } from './capture-helpers';
import { TsConv } from '../src/engine/capture/timestamps';

const dir = tempDir('tsresol');
after(() => rmSync(dir, { recursive: true, force: true }));

const SEC = 1700000000n;
const pkt = Buffer.alloc(60, 0xaa);

interface Case {
  what: string;
  tsresol?: number;
  tsoffset?: bigint;
  ts: bigint;
  us: number;
  ns: number;
  /** tshark 4.0 multiplies units by 10^9 in 64 bits: these overflow there, so it is no oracle for them. */
  tsharkOverflows?: boolean;
}

const cases: Case[] = [
  { what: 'default µs', ts: SEC * 1000000n + 123456n, us: 1700000000123456, ns: 0 },
  { what: 'ms (tsresol 3)', tsresol: 3, ts: SEC * 1000n + 789n, us: 1700000000789000, ns: 0 },
  { what: 's (tsresol 0)', tsresol: 0, ts: SEC, us: 1700000000000000, ns: 0 },
  { what: 'ns (tsresol 9)', tsresol: 9, ts: SEC * 1000000000n + 123456789n, us: 1700000000123456, ns: 789 },
  { what: '100 ps (tsresol 10)', tsresol: 10, ts: SEC * 10000000000n + 1234567891n, us: 1700000000123456, ns: 789 },
  // 64 bits of ps only reach 1970 + 213 days.
  { what: 'ps (tsresol 12)', tsresol: 12, ts: 1000000n * 1000000000000n + 999999999999n, us: 1000000999999, ns: 999, tsharkOverflows: true },
  { what: 'fs (tsresol 15, BigInt path)', tsresol: 15, ts: 1n * 1000000000000000n + 2003000000n, us: 1000002, ns: 3 },
  // 2^-20 s: half a second is 2^19 units; one unit is 0.95367431640625 µs.
  { what: '2^-20 s, half second', tsresol: 0x80 | 20, ts: (SEC << 20n) + (1n << 19n), us: 1700000000500000, ns: 0 },
  { what: '2^-20 s, one unit', tsresol: 0x80 | 20, ts: (SEC << 20n) + 1n, us: 1700000000000000, ns: 953 },
  { what: '2^-20 s, 3 units', tsresol: 0x80 | 20, ts: (SEC << 20n) + 3n, us: 1700000000000002, ns: 861 },
  { what: '2^-32 s', tsresol: 0x80 | 32, ts: (SEC << 32n) + (1n << 31n) + 1n, us: 1700000000500000, ns: 0 },
  // 2^-40 s units overflow 64 bits for current dates; 1000 s + 2^39 units = 1000.5 s.
  { what: '2^-40 s (BigInt path)', tsresol: 0x80 | 40, ts: (1000n << 40n) + (1n << 39n), us: 1000500000, ns: 0, tsharkOverflows: true },
  { what: 'µs with tsoffset +1000 s', tsoffset: 1000n, ts: SEC * 1000000n + 5n, us: 1700001000000005, ns: 0 },
  { what: 'ns with tsoffset -3600 s', tsresol: 9, tsoffset: -3600n, ts: SEC * 1000000000n + 42n, us: 1699996400000000, ns: 42 },
  { what: 'ms with tsoffset 1 s', tsresol: 3, tsoffset: 1n, ts: SEC * 1000n + 1n, us: 1700000001001000, ns: 0 },
];

function write(le: boolean): string {
  const w = new PcapngWriter(le);
  w.shb();
  for (const c of cases) w.idb({ linkType: 1, snapLen: 0, tsresol: c.tsresol, tsoffset: c.tsoffset });
  cases.forEach((c, i) => w.epb(i, c.ts, pkt));
  const f = join(dir, `tsresol-${le ? 'le' : 'be'}.pcapng`);
  writeFileSync(f, w.build());
  return f;
}

for (const le of [true, false]) {
  test(`if_tsresol and if_tsoffset give the written µs and ns (${le ? 'little' : 'big'}-endian section)`, async () => {
    const r = await readAll(write(le));
    assert.equal(r.error, null, r.error?.message);
    assert.equal(r.packets.length, cases.length);
    cases.forEach((c, i) => {
      const p = r.packets[i];
      assert.deepEqual([p.ifIndex, p.tsUs, p.ns], [i, c.us, c.ns], c.what);
    });
  });
}

test('tshark reads the same times for the resolutions and offsets it supports', async () => {
  const f = write(true);
  const frames = tsharkFrames(f);
  const r = await readAll(f);
  const bad: string[] = [];
  cases.forEach((c, i) => {
    const got = `${r.packets[i].tsUs}.${r.packets[i].ns}`;
    const want = `${frames[i].us}.${frames[i].ns}`;
    if (got !== want && !c.tsharkOverflows) bad.push(`${c.what}: ours ${got} tshark ${want}`);
  });
  assert.deepEqual(bad, []);
});

test('TsConv agrees with BigInt arithmetic over random unit counts for every supported resolution', () => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const resols = [0, 1, 3, 6, 7, 9, 10, 12, 0x80 | 0, 0x80 | 10, 0x80 | 20, 0x80 | 24, 0x80 | 31, 0x80 | 32];
  for (const tsresol of resols) {
    const conv = new TsConv(tsresol, 0);
    const perSec = tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
    // Keep the µs result inside 2^53 (dates up to ~2255), the documented range of tsUs.
    const maxUnits = (perSec * 8000000000n) / 1n;
    for (let k = 0; k < 2000; k++) {
      const units = (BigInt(Math.floor(rnd() * 2 ** 32)) * BigInt(Math.floor(rnd() * 2 ** 32)) + BigInt(Math.floor(rnd() * 2 ** 32))) % maxUnits;
      const hi = Number(units >> 32n);
      const lo = Number(units & 0xffffffffn);
      conv.convert(hi, lo);
      const nsTotal = (units * 1000000000n) / perSec;
      assert.equal(conv.us, Number(nsTotal / 1000n), `tsresol 0x${tsresol.toString(16)} units ${units}`);
      assert.equal(conv.ns, Number(nsTotal % 1000n), `tsresol 0x${tsresol.toString(16)} units ${units} ns`);
    }
  }
});
