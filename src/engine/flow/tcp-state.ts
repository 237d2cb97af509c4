// TCP connection state as DeepFlow tracks it (agent/src/flow_generator/flow_state.rs), so that
// close_type codes mean exactly what DeepFlow's do. Packets from the client use the "client" rules;
// packets from the server use the "server" rules where there is one and the client rules otherwise.

import { CloseType } from '../../shared/records';

export enum TcpState {
  Raw = 0,
  Opening1, // client SYN seen
  Opening2, // server SYN-ACK seen
  Established,
  ClosingTx1, // client FIN
  ClosingTx2, // client FIN, then server FIN
  ClosingRx1, // server FIN
  ClosingRx2, // server FIN, then client FIN
  Closed,
  Reset,
  Exception,
  ServerReset, // server RST answering the SYN
  ServerCandidateQueueLack,
  ClientL4PortReuse,
  Syn1, // server answered a SYN with a plain ACK (it still holds an old connection)
  SynAck1, // server repeated SYN-ACK after the handshake (its ACK queue overflowed)
  EstablishReset,
}

// Flag classes (flags masked to FIN|SYN|RST|PSH|ACK|URG).
const C_SYN = 0;
const C_SYNACK = 1;
const C_FIN = 2;
const C_RST = 3;
const C_ACK = 4; // exactly ACK
const C_DATA = 5; // PSH|ACK or PSH|ACK|URG
const C_OTHER = 6;

export function flagClass(flags: number): number {
  switch (flags & 0x3f) {
    case 0x02:
      return C_SYN;
    case 0x12:
      return C_SYNACK;
    case 0x01:
    case 0x11:
    case 0x19:
      return C_FIN;
    case 0x04:
    case 0x14:
    case 0x1c:
      return C_RST;
    case 0x10:
      return C_ACK;
    case 0x18:
    case 0x38:
      return C_DATA;
    default:
      return C_OTHER;
  }
}

const S = TcpState;
const X = S.Exception;
// Rows: state; columns: SYN, SYN-ACK, FIN, RST, ACK, PSH-ACK, other. -1 = no rule.
// prettier-ignore
const CLIENT: number[][] = [
  /* Raw         */ [S.Opening1, X, S.ClosingTx1, S.Reset, S.Established, S.Established, X],
  /* Opening1    */ [S.Opening1, X, S.ClosingTx1, S.EstablishReset, S.Established, S.Established, X],
  /* Opening2    */ [S.Opening2, X, S.ClosingTx1, S.EstablishReset, S.Established, S.Established, X],
  /* Established */ [S.Established, X, S.ClosingTx1, S.Reset, S.Established, S.Established, X],
  /* ClosingTx1  */ [S.ClosingTx1, S.ClosingTx1, S.ClosingTx1, S.Reset, S.ClosingTx1, S.ClosingTx1, X],
  /* ClosingTx2  */ [S.ClosingTx2, S.ClosingTx2, S.ClosingTx2, S.Reset, S.Closed, X, X],
  /* ClosingRx1  */ [S.ClosingRx1, S.ClosingRx1, S.ClosingRx2, S.Reset, S.ClosingRx1, S.ClosingRx1, X],
  /* ClosingRx2  */ [S.ClosingRx2, S.ClosingRx2, S.ClosingRx2, S.Reset, S.ClosingRx2, S.ClosingRx2, X],
  /* Closed      */ [S.Closed, S.Closed, S.Closed, S.Closed, S.Closed, S.Closed, S.Closed],
  /* Reset       */ [S.Reset, S.Reset, S.Reset, S.Reset, S.Reset, S.Reset, X],
  /* Exception   */ [X, X, X, X, X, X, X],
  /* ServerReset */ [S.ServerReset, S.ServerReset, S.ServerReset, S.ServerReset, S.ServerReset, S.ServerReset, X],
  /* SrvCandQLack*/ [S.ServerCandidateQueueLack, S.ServerCandidateQueueLack, S.ServerCandidateQueueLack, S.ServerCandidateQueueLack, S.ServerCandidateQueueLack, S.ServerCandidateQueueLack, X],
  /* ClientL4Reuse*/[S.ClientL4PortReuse, S.ClientL4PortReuse, S.ClientL4PortReuse, S.ClientL4PortReuse, S.ClientL4PortReuse, S.ClientL4PortReuse, X],
  /* Syn1        */ [S.Opening1, X, S.ClosingTx1, S.ClientL4PortReuse, S.Established, S.Established, X],
  /* SynAck1     */ [S.Established, X, S.ClosingTx1, S.Reset, S.SynAck1, S.SynAck1, X],
  /* EstablishRst*/ [S.EstablishReset, S.EstablishReset, S.EstablishReset, S.EstablishReset, S.EstablishReset, S.EstablishReset, X],
];
// prettier-ignore
const SERVER: number[][] = [
  /* Raw         */ [-1, S.Opening2, S.ClosingRx1, -1, -1, -1, -1],
  /* Opening1    */ [-1, S.Opening2, S.ClosingRx1, S.ServerReset, S.Syn1, S.Syn1, -1],
  /* Opening2    */ [-1, S.Opening2, S.ClosingRx1, S.EstablishReset, -1, -1, -1],
  /* Established */ [-1, S.SynAck1, S.ClosingRx1, -1, -1, -1, -1],
  /* ClosingTx1  */ [-1, -1, S.ClosingTx2, -1, -1, -1, -1],
  /* ClosingTx2  */ [-1, -1, -1, -1, S.ClosingTx2, S.ClosingTx2, -1],
  /* ClosingRx1  */ [-1, -1, S.ClosingRx1, -1, -1, -1, -1],
  /* ClosingRx2  */ [-1, -1, -1, -1, S.Closed, -1, -1],
  /* Closed      */ [-1, -1, -1, -1, -1, -1, -1],
  /* Reset       */ [-1, -1, -1, -1, -1, -1, -1],
  /* Exception   */ [-1, -1, -1, -1, -1, -1, -1],
  /* ServerReset */ [-1, -1, -1, -1, -1, -1, -1],
  /* SrvCandQLack*/ [-1, -1, -1, -1, -1, -1, -1],
  /* ClientL4Reuse*/[-1, -1, -1, -1, -1, -1, -1],
  /* Syn1        */ [-1, S.Opening2, S.ClosingRx1, S.EstablishReset, S.Syn1, S.Syn1, -1],
  /* SynAck1     */ [-1, S.SynAck1, S.ClosingRx1, S.ServerCandidateQueueLack, S.Established, S.Established, -1],
  /* EstablishRst*/ [-1, -1, -1, -1, -1, -1, -1],
];

// Both tables folded into one lookup by (state, flags & 0x3f, direction), built once: a packet's
// transition is then a single load from a 2 KiB array instead of a switch and two nested arrays.
const NEXT = new Int8Array(CLIENT.length * 128);
for (let st = 0; st < CLIENT.length; st++) {
  for (let f = 0; f < 64; f++) {
    const c = flagClass(f);
    NEXT[(st << 7) | (f << 1)] = CLIENT[st][c];
    NEXT[(st << 7) | (f << 1) | 1] = SERVER[st][c] >= 0 ? SERVER[st][c] : CLIENT[st][c];
  }
}

export function nextState(state: TcpState, flags: number, fromClient: boolean): TcpState {
  return NEXT[(state << 7) | ((flags & 0x3f) << 1) | (fromClient ? 0 : 1)];
}

/** Idle timeouts by state, µs (DeepFlow defaults: others 5 s, established 300 s, RST 35 s, FIN 2 s). */
export function stateTimeoutUs(state: TcpState, prev: TcpState): number {
  switch (state) {
    case TcpState.Established:
    case TcpState.SynAck1:
      return 300e6;
    case TcpState.Closed:
      return 2e6;
    case TcpState.Reset:
      return prev === TcpState.Established ? 35e6 : 5e6;
    case TcpState.ServerCandidateQueueLack:
      return 35e6;
    default:
      return 5e6;
  }
}

/** Terminal states: a later SYN with a new ISN starts a new connection (a new flow row). */
export function isFinished(state: TcpState): boolean {
  return (
    state === TcpState.Closed ||
    state === TcpState.ClosingTx2 ||
    state === TcpState.ClosingRx2 ||
    state === TcpState.Reset ||
    state === TcpState.ServerReset ||
    state === TcpState.EstablishReset ||
    state === TcpState.ClientL4PortReuse
  );
}

const F_SYN = 0x02;
const F_RST = 0x04;
const F_PSH = 0x08;
const F_ACK = 0x10;

/**
 * close_type from the state a flow ended in. clientFlags/serverFlags: OR of all flags each side sent;
 * serverPackets: packets the server sent.
 */
export function closeTypeOf(state: TcpState, clientFlags: number, serverFlags: number, serverPackets: number): number {
  // A "heartbeat": SYN, SYN-ACK, [ACK], RST with no data at all — a health check, not a failure.
  const heartbeat =
    !((clientFlags | serverFlags) & F_PSH) &&
    (clientFlags & (F_SYN | F_RST)) === (F_SYN | F_RST) &&
    (serverFlags & (F_SYN | F_ACK)) === (F_SYN | F_ACK);
  const serverRst = (serverFlags & F_RST) !== 0;
  switch (state) {
    case TcpState.Opening1:
      return CloseType.ServerSynMiss;
    case TcpState.Opening2:
      return CloseType.ClientAckMiss;
    case TcpState.Established:
      return CloseType.Timeout;
    case TcpState.ClosingTx1:
      return CloseType.ServerHalfClose;
    case TcpState.ClosingRx1:
      return CloseType.ClientHalfClose;
    case TcpState.ClosingTx2:
    case TcpState.ClosingRx2:
    case TcpState.Closed:
      return CloseType.Normal;
    case TcpState.Reset:
      if (heartbeat) return CloseType.ClientRstAfterFin;
      return serverRst ? CloseType.ServerRst : CloseType.ClientRst;
    case TcpState.Syn1:
    case TcpState.ClientL4PortReuse:
      return heartbeat ? CloseType.ClientRstAfterFin : CloseType.ClientSourcePortReuse;
    case TcpState.ServerReset:
      return CloseType.ServerDirectRst;
    case TcpState.SynAck1:
      return CloseType.ServerQueueOverflow;
    case TcpState.ServerCandidateQueueLack:
      return serverPackets > 3 ? CloseType.ServerQueueOverflow : CloseType.ClientRst;
    case TcpState.EstablishReset:
      if (heartbeat) return CloseType.ClientRstAfterFin;
      return serverRst ? CloseType.ServerEstablishRst : CloseType.ClientEstablishRst;
    default:
      return CloseType.Unknown;
  }
}
