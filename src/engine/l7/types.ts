// The one small interface every application protocol module implements (README.md in this folder shows
// how to add one). A module says whether a payload looks like its protocol (detect) and makes a parser per
// flow; the parser turns contiguous bytes per direction into messages; the session pairs them.

/** What one message is. */
export const enum MsgKind {
  Request = 0,
  Response = 1,
}

/** requests.response_status values (SPEC.md "Requests"). */
export type ResponseStatus = 'ok' | 'client_error' | 'server_error' | 'timeout' | 'unknown';

/** Direction of a message within its flow: 0 = sent by the flow table's client, 1 = by its server. */
export type Dir = 0 | 1;

/**
 * One parsed request or response. A parser hands it to the sink as soon as its start is known
 * (begin) and keeps filling fields until it calls end: pairing needs the order of starts (pipelining),
 * the record needs the complete message.
 */
export class L7Message {
  /** Pairing key where the protocol has one (DNS id, stream id); -1 pairs first-in first-out. */
  sessionId = -1;
  /** Capture time (µs) of the packet carrying the first / last byte. */
  startTs = 0;
  endTs = 0;
  /** TCP sequence number of the first byte (the key that joins hops); null on UDP. */
  tcpSeq: number | null = null;
  /** TCP: the last acknowledgement its sender had sent when it began (how much of the peer's stream it
   *  had received); -1 when unknown. Set by the session, used to re-align pairs after capture loss. */
  senderAck = -1;
  ended = false;
  /** Bytes of this message were missing from the capture, or it was cut off at the end of the flow. */
  truncated = false;
  /** A request that gets no response by design (NATS PUB, AMQP Basic.Publish, memcached noreply): it is a
   *  row of its own once ended, with this message's responseStatus, and never takes a response. */
  oneWay = false;

  version: string | null = null;
  requestType: string | null = null;
  requestDomain: string | null = null;
  requestResource: string | null = null;
  endpoint: string | null = null;
  responseCode: number | null = null;
  /** Status this message alone implies ('unknown' for requests). */
  responseStatus: ResponseStatus = 'unknown';
  responseException: string | null = null;
  responseResult: string | null = null;
  traceId: string | null = null;
  spanId: string | null = null;
  parentSpanId: string | null = null;
  /** x-request-id (or the protocol's equivalent) carried by this message. */
  xRequestId: string | null = null;
  /** Payload length as the protocol counts it (HTTP: body bytes; DNS: message bytes); null if unknown. */
  length: number | null = null;
  /** requests.l7_protocol of this message's row when it differs from the flow's protocol name (an
   *  HTTP/2 connection carrying gRPC: 'grpc'); null = the protocol module's name. */
  l7Protocol: string | null = null;

  constructor(
    readonly kind: MsgKind,
    readonly dir: Dir,
  ) {}
}

/** Where a parser delivers messages (the flow's session). */
export interface MessageSink {
  /** A message started; fields may still change until end(). */
  begin(m: L7Message): void;
  /** The message is complete, or cut short (m.truncated). */
  end(m: L7Message): void;
}

/**
 * Per-flow parser. `buf` is only valid during the call (it is usually the capture's batch buffer):
 * copy what must outlive it.
 */
export interface L7FlowParser {
  /** In-order bytes of direction `dir`; `seq` is the TCP sequence number of buf[off]. */
  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void;
  /** `len` bytes of direction `dir` starting at `seq` are missing from the capture. */
  gap(dir: Dir, seq: number, len: number, tsUs: number): void;
  /** One UDP datagram (or other message-framed transport). */
  datagram(dir: Dir, buf: Buffer, off: number, len: number, tsUs: number): void;
  /** Direction `dir` was closed by its sender (FIN): bodies delimited by the close end here. */
  close(dir: Dir, tsUs: number): void;
  /** The flow ended: end every message in progress (marked truncated where bytes are missing). */
  finish(tsUs: number): void;
}

export const enum Transport {
  Tcp = 6,
  Udp = 17,
}

/** What detect() may look at besides the payload; one object is reused for every call. */
export interface DetectContext {
  transport: Transport;
  /** True when the payload travels from the flow table's client to its server. */
  fromClient: boolean;
  srcPort: number;
  dstPort: number;
}

/** Detection confidence: 0 = not this protocol; DETECT_SURE or more = take it. */
export const DETECT_SURE = 50;

export interface L7Protocol {
  /** Text of requests.l7_protocol and flows.l7_protocol ('http', 'dns', ...). */
  readonly name: string;
  readonly tcp: boolean;
  readonly udp: boolean;
  /** Well-known server ports: only order the candidates, never decide. */
  readonly ports: readonly number[];
  /** Capture time after which a request without response is reported as 'timeout' (µs). */
  readonly requestTimeoutUs: number;
  /** Messages carry a session id: pair by id; otherwise first-in first-out per flow. */
  readonly hasSessionId: boolean;
  /**
   * Confidence (0..100) that the payload at buf[off, off+len) — the first bytes of a segment or a whole
   * datagram — is this protocol. Must not throw on any input and must not keep `buf`.
   */
  detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number;
  /** A parser for one flow, delivering to `sink`. */
  createParser(sink: MessageSink, transport: Transport): L7FlowParser;
}
