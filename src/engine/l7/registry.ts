// The protocol modules Flowscope knows, and protocol inference: every candidate looks at the payload;
// ports and what an earlier flow to the same server endpoint turned out to be only decide the order in
// which candidates are asked (SPEC.md "Requests").

import { AMQP } from './amqp';
import { DNS } from './dns';
import { DUBBO } from './dubbo';
import { HTTP1 } from './http1';
import { HTTP2 } from './http2';
import { KAFKA } from './kafka';
import { MEMCACHED } from './memcached';
import { MONGO } from './mongo';
import { MQTT } from './mqtt';
import { MYSQL } from './mysql';
import { NATS } from './nats';
import { POSTGRESQL } from './postgresql';
import { REDIS } from './redis';
import { TLS } from './tls';
import { DETECT_SURE, Transport, type DetectContext, type L7Protocol } from './types';

/** Server endpoints remembered (oldest forgotten first), as DeepFlow's AppTable (4096 per family). */
const MAX_SERVER_CACHE = 8192;

export class ProtocolRegistry {
  private readonly protocols: L7Protocol[] = [];
  /** Server endpoint key → protocol found on an earlier flow. */
  private readonly servers = new Map<string, L7Protocol>();

  constructor(protocols: readonly L7Protocol[] = []) {
    for (const p of protocols) this.register(p);
  }

  /** Adds a protocol module; a module with the same name is replaced. */
  register(p: L7Protocol): void {
    if (!p.name || typeof p.detect !== 'function' || typeof p.createParser !== 'function') {
      throw new Error(`l7: a protocol module needs a name, detect() and createParser() (got ${String(p.name)})`);
    }
    const i = this.protocols.findIndex((q) => q.name === p.name);
    if (i >= 0) this.protocols[i] = p;
    else this.protocols.push(p);
  }

  get list(): readonly L7Protocol[] {
    return this.protocols;
  }

  byName(name: string): L7Protocol | undefined {
    return this.protocols.find((p) => p.name === name);
  }

  /**
   * The protocol of a payload, or null. Candidates in order: the protocol last seen on this server
   * endpoint, those listing the server port, the rest in registration order. The first that is sure
   * (>= DETECT_SURE) wins; a weaker guess counts only from a candidate whose port matches.
   */
  detect(buf: Buffer, off: number, len: number, ctx: DetectContext, serverKey: string | null): L7Protocol | null {
    const serverPort = ctx.fromClient ? ctx.dstPort : ctx.srcPort;
    const cached = serverKey !== null ? this.servers.get(serverKey) : undefined;
    let weak: L7Protocol | null = null;
    let weakScore = 0;
    if (cached !== undefined && carries(cached, ctx.transport)) {
      const c = safeDetect(cached, buf, off, len, ctx);
      if (c >= DETECT_SURE) return cached;
    }
    for (let pass = 0; pass < 2; pass++) {
      for (const p of this.protocols) {
        if (p === cached || !carries(p, ctx.transport)) continue;
        const portMatch = p.ports.includes(serverPort) || p.ports.includes(ctx.srcPort) || p.ports.includes(ctx.dstPort);
        if (portMatch !== (pass === 0)) continue;
        const c = safeDetect(p, buf, off, len, ctx);
        if (c >= DETECT_SURE) return p;
        if (portMatch && c > weakScore) {
          weak = p;
          weakScore = c;
        }
      }
    }
    return weak;
  }

  /** Remembers what a server endpoint speaks (orders the candidates of its next flows). */
  remember(serverKey: string, p: L7Protocol): void {
    if (this.servers.get(serverKey) === p) return;
    this.servers.delete(serverKey);
    this.servers.set(serverKey, p);
    if (this.servers.size > MAX_SERVER_CACHE) this.servers.delete(this.servers.keys().next().value!);
  }
}

function carries(p: L7Protocol, t: Transport): boolean {
  return t === Transport.Tcp ? p.tcp : t === Transport.Udp ? p.udp : false;
}

/** A plugin's detect() that throws counts as "not this protocol". */
function safeDetect(p: L7Protocol, buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  try {
    const c = p.detect(buf, off, len, ctx);
    return c > 0 ? c : 0;
  } catch {
    return 0;
  }
}

/**
 * The protocols built in, in inference order (DeepFlow's order where it has the protocol). Every
 * module's detect() is strict enough to claim none of the others' captures (l7-*-coexistence and
 * l7-deepflow tests), so the order matters only for weak, port-backed guesses.
 */
export const BUILTIN_PROTOCOLS: readonly L7Protocol[] = [
  HTTP1,
  HTTP2,
  DUBBO,
  MYSQL,
  POSTGRESQL,
  REDIS,
  KAFKA,
  MQTT,
  DNS,
  TLS,
  MONGO,
  MEMCACHED,
  AMQP,
  NATS,
];

export function defaultRegistry(): ProtocolRegistry {
  return new ProtocolRegistry(BUILTIN_PROTOCOLS);
}
