// The views' queries over a store (ARCHITECTURE.md "One API, four transports": the renderer never
// writes SQL for them). Each call runs on a connection of its own, so its temp tables are private and
// vanish with it, and calls from several windows run side by side with an import.
import type { DuckDBConnection } from '@duckdb/node-api';
import type {
  FlowRow,
  LogPage,
  LogRequest,
  NetworkRequest,
  NetworkRow,
  RedRequest,
  RedTable,
  RequestRow,
  ServiceMap,
  ServiceMapRequest,
  TimeSeries,
  TimeSeriesRequest,
} from '../../../shared/views';
import type { Store } from '../store';
import { flowLog, requestLog } from './logs';
import { networkTable } from './network';
import { redTable } from './red';
import { serviceMap } from './service-map';
import { timeSeries } from './time-series';

export { parseFilterText } from './filter';

async function withConnection<T>(store: Store, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await store.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

export class Views {
  constructor(private readonly store: Store) {}

  serviceMap(req: ServiceMapRequest): Promise<ServiceMap> {
    return withConnection(this.store, (c) => serviceMap(c, req));
  }

  red(req: RedRequest): Promise<RedTable> {
    return withConnection(this.store, (c) => redTable(c, req));
  }

  network(req: NetworkRequest): Promise<NetworkRow[]> {
    return withConnection(this.store, (c) => networkTable(c, req));
  }

  timeSeries(req: TimeSeriesRequest): Promise<TimeSeries> {
    return withConnection(this.store, (c) => timeSeries(c, req));
  }

  requestLog(req: LogRequest): Promise<LogPage<RequestRow>> {
    return withConnection(this.store, (c) => requestLog(c, req));
  }

  flowLog(req: LogRequest): Promise<LogPage<FlowRow>> {
    return withConnection(this.store, (c) => flowLog(c, req));
  }
}
