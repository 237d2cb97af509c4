import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipToString } from '../src/engine/decode/packet';

test('IPv4 words print as dotted quads', () => {
  assert.equal(ipToString(4, Int32Array.of(0xc0a80001 | 0, 0, 0, 0)), '192.168.0.1');
});

test('IPv6 words print RFC 5952 compressed', () => {
  assert.equal(ipToString(6, Int32Array.of(0x20010db8, 0, 0, 1)), '2001:db8::1');
  assert.equal(ipToString(6, Int32Array.of(0, 0, 0, 1)), '::1');
  assert.equal(ipToString(6, Int32Array.of(0xfe800000 | 0, 0, 0x02000000, 0x00000001)), 'fe80::200:0:0:1');
  assert.equal(ipToString(6, Int32Array.of(0, 0, 0xffff, 0x0a000001)), '::ffff:10.0.0.1');
});
