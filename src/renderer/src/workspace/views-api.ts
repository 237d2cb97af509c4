// The view methods of the API (src/shared/api.ts: serviceMap, red, network, timeSeries, requestLog,
// flowLog, requestPath) as the views call them. Typed from views.ts so the views build against the contract; the
// client is narrowed to exactly these.

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
} from '../../../shared/views';
import type { AppApi } from '../api';

export interface ViewsApi {
  serviceMap(request: ServiceMapRequest): Promise<ServiceMap>;
  red(request: RedRequest): Promise<RedTable>;
  network(request: NetworkRequest): Promise<NetworkRow[]>;
  timeSeries(request: TimeSeriesRequest): Promise<TimeSeries>;
  requestLog(request: LogRequest): Promise<LogPage<RequestRow>>;
  flowLog(request: LogRequest): Promise<LogPage<FlowRow>>;
  requestPath(request: RequestPathRequest): Promise<RequestPath>;
}

export function viewsApi(api: AppApi): ViewsApi {
  return api as unknown as ViewsApi;
}
