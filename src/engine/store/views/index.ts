// The views' queries over a store (ARCHITECTURE.md "One API, four transports": the renderer never
// writes SQL for them).
//
// Counting each request once (dedupe.ts) is the expensive part — a pass over every hop's row — and
// depends only on which captures are in scope, not on the window, grouping or filter the user moves
// about. So its result is kept per capture set in temp tables of one connection of the Views' own,
// and dropped when the store changes: the service calls invalidate() when an import ends, and a cheap
// fingerprint (largest request/flow/capture/resource ids, captures' and tag links' counts) catches
// writers that did not say so. The names of addresses (nodes.ts NAMES_TABLE) are refreshed with them.
// Calls run one at a time on that connection; an import appends on the store's own connection meanwhile.
import type { DuckDBConnection } from '@duckdb/node-api';
import type {
  FlowRow,
  LogPage,
  LogRequest,
  NetworkRequest,
  NetworkRow,
  RedRequest,
  RedTable,
  RequestPath,
  RequestPathRequest,
  RequestRow,
  ServiceMap,
  ServiceMapRequest,
  TimeSeries,
  TimeSeriesRequest,
  ViewScope,
} from '../../../shared/views';
import type { Store } from '../store';
import type { ViewContext } from './context';
import { buildFlowOnce, buildRequestOnce } from './dedupe';
import { flowLog, requestLog } from './logs';
import { networkTable } from './network';
import { requestPath } from './path';
import { redByProtocol, redTable } from './red';
import { NAMES_TABLE } from './nodes';
import { serviceMap } from './service-map';
import { exec, rows } from './sql';
import { timeSeries } from './time-series';

export { parseFilterText } from './filter';

/** Capture sets whose tables are kept (least recently used dropped first). */
const CACHED_SETS = 4;

interface Entry {
  requests?: string;
  flows?: string;
  used: number;
}

export class Views {
  private conn: Promise<DuckDBConnection> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private entries = new Map<string, Entry>();
  private fingerprint = '';
  private stale = false;
  private tick = 0;
  private nextTable = 1;
  private closed = false;

  constructor(private readonly store: Store) {}

  /** The store changed (an import ended or was undone): rebuild the sets on next use. */
  invalidate(): void {
    this.stale = true;
  }

  serviceMap(req: ServiceMapRequest): Promise<ServiceMap> {
    return this.run((ctx) => serviceMap(ctx, req));
  }

  red(req: RedRequest): Promise<RedTable> {
    return this.run((ctx) => redTable(ctx, req));
  }

  /** RED per L7 protocol (for the CLI's summary; not an API method). */
  redByProtocol(scope: ViewScope): ReturnType<typeof redByProtocol> {
    return this.run((ctx) => redByProtocol(ctx, scope));
  }

  network(req: NetworkRequest): Promise<NetworkRow[]> {
    return this.run((ctx) => networkTable(ctx, req));
  }

  timeSeries(req: TimeSeriesRequest): Promise<TimeSeries> {
    return this.run((ctx) => timeSeries(ctx, req));
  }

  requestLog(req: LogRequest): Promise<LogPage<RequestRow>> {
    return this.run((ctx) => requestLog(ctx, req));
  }

  flowLog(req: LogRequest): Promise<LogPage<FlowRow>> {
    return this.run((ctx) => flowLog(ctx, req));
  }

  /** Every observation point's row of one request, in path order. */
  requestPath(req: RequestPathRequest): Promise<RequestPath> {
    return this.run((ctx) => requestPath(ctx, req));
  }

  /**
   * Builds the all-captures sets now (after an import), so the first view the user opens does not pay
   * for them. Queued like any view; a view asked meanwhile waits behind it, as it would have built them.
   */
  warm(): Promise<void> {
    return this.run(async (ctx) => {
      await ctx.requestTable(undefined);
      await ctx.flowTable(undefined);
    });
  }

  /** Closes the connection (its temp tables go with it). */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => undefined);
    if (this.conn) (await this.conn).closeSync();
    this.conn = null;
  }

  private run<T>(fn: (ctx: ViewContext) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => this.runNow(fn));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async runNow<T>(fn: (ctx: ViewContext) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('views: closed');
    this.conn ??= this.store.connect();
    const conn = await this.conn;
    await this.checkFresh(conn);
    const table = (kind: 'requests' | 'flows') => async (captureIds: readonly number[] | undefined): Promise<string> => {
      const key = captureIds === undefined ? 'all' : [...new Set(captureIds)].sort((a, b) => a - b).join(',');
      let entry = this.entries.get(key);
      if (!entry) {
        await this.evict(conn);
        entry = { used: 0 };
        this.entries.set(key, entry);
      }
      entry.used = ++this.tick;
      let name = entry[kind];
      if (name === undefined) {
        name = `views_${kind}_${this.nextTable++}`;
        await (kind === 'requests' ? buildRequestOnce : buildFlowOnce)(conn, name, captureIds);
        entry[kind] = name;
      }
      return name;
    };
    return fn({ conn, requestTable: table('requests'), flowTable: table('flows') });
  }

  private async checkFresh(conn: DuckDBConnection): Promise<void> {
    const [r] = await rows(
      conn,
      `SELECT (SELECT max(request_id) FROM requests) AS r, (SELECT max(flow_id) FROM flows) AS f,
              (SELECT count(*) FROM captures) AS n, (SELECT max(capture_id) FROM captures) AS c,
              (SELECT count(*) FROM ip_resources) AS t, (SELECT max(resource_id) FROM resources) AS m`,
    );
    const fingerprint = `${r.r}/${r.f}/${r.n}/${r.c}/${r.t}/${r.m}`;
    if (this.stale || fingerprint !== this.fingerprint) {
      for (const e of this.entries.values()) await this.drop(conn, e);
      this.entries.clear();
      await exec(conn, `CREATE OR REPLACE TEMP TABLE ${NAMES_TABLE} AS SELECT * FROM ip_names`);
      this.fingerprint = fingerprint;
      this.stale = false;
    }
  }

  private async evict(conn: DuckDBConnection): Promise<void> {
    while (this.entries.size >= CACHED_SETS) {
      let oldest: [string, Entry] | null = null;
      for (const kv of this.entries) if (!oldest || kv[1].used < oldest[1].used) oldest = kv;
      await this.drop(conn, oldest![1]);
      this.entries.delete(oldest![0]);
    }
  }

  private async drop(conn: DuckDBConnection, e: Entry): Promise<void> {
    for (const t of [e.requests, e.flows]) if (t !== undefined) await conn.run(`DROP TABLE IF EXISTS ${t}`);
  }
}
