// Pairs the requests and responses of one flow. With session ids (DNS id, stream id) a response takes
// the oldest open request with its id; without, the oldest open request (FIFO — HTTP/1.1 pipelining
// included). A response with no open request is a row of its own. An exchange is handed on when its
// response (and its request) have ended; a request left without response past the protocol's timeout
// (capture time) or at the end of the flow becomes a 'timeout' row.

import { MsgKind, type L7Message, type ResponseStatus } from './types';

export interface Exchange {
  req: L7Message | null;
  resp: L7Message | null;
}

/**
 * Receives finished exchanges; `status` overrides the response's own status when not null. `x` is only
 * valid during the call (exchange objects are reused): keep what it holds, not `x`.
 */
export type ExchangeHandler = (x: Exchange, status: ResponseStatus | null) => void;

/** Exchange objects handed on and free for reuse (shared by all pairers; one per request otherwise). */
const FREE: Exchange[] = [];
const MAX_FREE = 1024;

function exchange(req: L7Message | null, resp: L7Message | null): Exchange {
  const x = FREE.pop();
  if (x === undefined) return { req, resp };
  x.req = req;
  x.resp = resp;
  return x;
}

function release(x: Exchange): void {
  x.req = null;
  x.resp = null;
  if (FREE.length < MAX_FREE) FREE.push(x);
}

/** Open exchanges per flow before the oldest is given up (DeepFlow's session table reports it as unknown). */
export const MAX_OPEN_EXCHANGES = 1024;

export class Pairer {
  private open: Exchange[] = [];
  /** Bytes went missing in the direction responses travel: some responses may never be seen. */
  private responseLoss = false;

  constructor(
    private readonly bySessionId: boolean,
    private readonly timeoutUs: number,
    private readonly handler: ExchangeHandler,
    private readonly maxOpen = MAX_OPEN_EXCHANGES,
  ) {}

  get openCount(): number {
    return this.open.length;
  }

  /** Capture time of the oldest open exchange, or Infinity. */
  get oldestStart(): number {
    let t = Infinity;
    for (const x of this.open) {
      const s = x.req !== null ? x.req.startTs : x.resp!.startTs;
      if (s < t) t = s;
    }
    return t;
  }

  begin(m: L7Message): void {
    if (m.kind === MsgKind.Request) {
      this.open.push(exchange(m, null));
    } else {
      if (this.responseLoss && !this.bySessionId) this.skipLostResponses(m);
      let match: Exchange | null = null;
      for (const x of this.open) {
        if (x.req !== null && x.resp === null && !x.req.oneWay && (!this.bySessionId || x.req.sessionId === m.sessionId)) {
          match = x;
          break;
        }
      }
      if (match !== null) match.resp = m;
      else this.open.push(exchange(null, m));
    }
    while (this.open.length > this.maxOpen) {
      const x = this.open.shift()!;
      this.handler(x, x.resp === null && !x.req!.oneWay ? 'unknown' : null);
      release(x);
    }
  }

  /** The capture lost bytes of direction `dir` (a whole response may be among them). */
  gap(dir: number): void {
    for (const x of this.open) {
      if (x.req !== null && x.resp === null && !x.req.oneWay && x.req.dir !== dir) {
        this.responseLoss = true;
        return;
      }
    }
  }

  /**
   * First response after a loss, FIFO pairing: a server answers a request only after receiving it, so
   * the response belongs to a request that began before the response's acknowledgement. Of the open
   * requests that began before it, the oldest ones whose responses were lost would otherwise shift
   * every later pair by one: each open request followed by another one the server had already
   * received when it answered is handed on without response ('unknown': it was answered, unseen).
   * Without pipelining this is exact; with pipelining after a loss it is a best guess.
   */
  private skipLostResponses(m: L7Message): void {
    this.responseLoss = false;
    if (m.senderAck < 0) return;
    let last = -1;
    for (let i = 0; i < this.open.length; i++) {
      const x = this.open[i];
      if (x.req === null || x.resp !== null || x.req.oneWay || x.req.tcpSeq === null) continue;
      if (((x.req.tcpSeq - m.senderAck) | 0) < 0) last = i;
    }
    for (let i = 0; i < last; ) {
      const x = this.open[i];
      if (x.req !== null && x.resp === null && !x.req.oneWay) {
        this.open.splice(i, 1);
        last--;
        this.handler(x, 'unknown');
        release(x);
      } else {
        i++;
      }
    }
  }

  /** A message ended: hand on every exchange that is now complete. */
  end(): void {
    const open = this.open;
    for (let i = 0; i < open.length; ) {
      const x = open[i];
      if (
        (x.resp !== null && x.resp.ended && (x.req === null || x.req.ended)) ||
        (x.resp === null && x.req !== null && x.req.oneWay && x.req.ended)
      ) {
        // Mostly the oldest completes: shift() does not allocate the removed-items array splice() does.
        if (i === 0) open.shift();
        else open.splice(i, 1);
        this.handler(x, null);
        release(x);
      } else {
        i++;
      }
    }
  }

  /** Capture time moved to `nowUs`: requests unanswered for longer than the timeout are timeouts. */
  expire(nowUs: number): void {
    const open = this.open;
    for (let i = 0; i < open.length; ) {
      const x = open[i];
      const start = x.req !== null ? x.req.startTs : x.resp!.startTs;
      if (nowUs - start > this.timeoutUs) {
        open.splice(i, 1);
        this.handler(x, x.resp === null && !x.req!.oneWay ? 'timeout' : null);
        release(x);
      } else {
        i++;
      }
    }
  }

  /** The flow ended: everything open is handed on; requests without response are timeouts. */
  flush(): void {
    const open = this.open;
    this.open = [];
    for (const x of open) {
      this.handler(x, x.resp === null && !x.req!.oneWay ? 'timeout' : null);
      release(x);
    }
  }
}
