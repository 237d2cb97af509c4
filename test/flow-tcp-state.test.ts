import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpState, closeTypeOf, nextState } from '../src/engine/flow/tcp-state';

const SYN = 0x02, SYNACK = 0x12, ACK = 0x10, PSHACK = 0x18, FINACK = 0x11, RST = 0x04, RSTACK = 0x14;

function run(packets: [number, boolean][]): TcpState {
  let s = TcpState.Raw;
  for (const [flags, fromClient] of packets) s = nextState(s, flags, fromClient);
  return s;
}

test('normal open, data and FIN close ends Closed → close type 1', () => {
  const s = run([[SYN, true], [SYNACK, false], [ACK, true], [PSHACK, true], [ACK, false], [FINACK, true], [FINACK, false], [ACK, true]]);
  assert.equal(s, TcpState.Closed);
  assert.equal(closeTypeOf(s, SYN | ACK | 0x08 | 0x01, SYNACK | 0x01, 3), 1);
});

test('SYN answered by RST is a server direct reset (15)', () => {
  const s = run([[SYN, true], [RSTACK, false]]);
  assert.equal(closeTypeOf(s, SYN, RSTACK, 1), 15);
});

test('unanswered SYNs: server SYN miss (7); unanswered SYN-ACKs: client ACK miss (10)', () => {
  assert.equal(closeTypeOf(run([[SYN, true], [SYN, true]]), SYN, 0, 0), 7);
  assert.equal(closeTypeOf(run([[SYN, true], [SYNACK, false], [SYNACK, false]]), SYN, SYNACK, 2), 10);
});

test('SYN answered by a plain ACK then client RST is source-port reuse (13)', () => {
  const s = run([[SYN, true], [ACK, false], [RST, true]]);
  assert.equal(s, TcpState.ClientL4PortReuse);
  assert.equal(closeTypeOf(s, SYN | RST, ACK, 1), 13);
});

test('reset while established: by server (2) or client (9); health-check RST after handshake (20)', () => {
  const est: [number, boolean][] = [[SYN, true], [SYNACK, false], [ACK, true], [PSHACK, true]];
  assert.equal(closeTypeOf(run([...est, [RSTACK, false]]), SYN | ACK | 0x08, SYNACK | RSTACK, 2), 2);
  assert.equal(closeTypeOf(run([...est, [RSTACK, true]]), SYN | ACK | 0x08 | RST, SYNACK, 1), 9);
  const hb = run([[SYN, true], [SYNACK, false], [ACK, true], [RSTACK, true]]);
  assert.equal(closeTypeOf(hb, SYN | ACK | RST, SYNACK, 1), 20);
});

test('half closes and still-open connections', () => {
  const est: [number, boolean][] = [[SYN, true], [SYNACK, false], [ACK, true]];
  assert.equal(closeTypeOf(run([...est, [FINACK, true]]), SYN | ACK | 1, SYNACK, 1), 8);
  assert.equal(closeTypeOf(run([...est, [FINACK, false]]), SYN | ACK, SYNACK | 1, 2), 11);
  assert.equal(closeTypeOf(run(est), SYN | ACK, SYNACK, 1), 3);
});
