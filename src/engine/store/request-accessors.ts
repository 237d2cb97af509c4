// The requests table's columnar writer: RequestRecord field per column of schema.ts (as FLOW_ACCESSORS
// is for flows). TableWriter checks at creation that the map and the table agree.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { RequestRecord } from '../../shared/records';
import { TableWriter, type Accessor } from './appender';

export type RequestWriter = TableWriter<RequestRecord>;

export const REQUEST_ACCESSORS: Readonly<Record<string, Accessor<RequestRecord>>> = {
  request_id: (r) => r.requestId,
  flow_id: (r) => r.flowId,
  capture_id: (r) => r.captureId,
  if_index: (r) => r.ifIndex,
  observation_point: (r) => r.observationPoint,
  start_time: (r) => r.startTime,
  end_time: (r) => r.endTime,
  duration: (r) => r.duration,
  l7_protocol: (r) => r.l7Protocol,
  version: (r) => r.version,
  request_type: (r) => r.requestType,
  request_domain: (r) => r.requestDomain,
  request_resource: (r) => r.requestResource,
  endpoint: (r) => r.endpoint,
  response_status: (r) => r.responseStatus,
  response_code: (r) => r.responseCode,
  response_exception: (r) => r.responseException,
  response_result: (r) => r.responseResult,
  trace_id: (r) => r.traceId,
  span_id: (r) => r.spanId,
  parent_span_id: (r) => r.parentSpanId,
  x_request_id_0: (r) => r.xRequestId0,
  x_request_id_1: (r) => r.xRequestId1,
  req_tcp_seq: (r) => r.reqTcpSeq,
  resp_tcp_seq: (r) => r.respTcpSeq,
  request_length: (r) => r.requestLength,
  response_length: (r) => r.responseLength,
  client_ip: (r) => r.clientIp,
  server_ip: (r) => r.serverIp,
  client_port: (r) => r.clientPort,
  server_port: (r) => r.serverPort,
  signal_source: (r) => r.signalSource,
};

/**
 * A bulk writer for requests on the store's connection (`store.conn`); close() it to commit. `onClose`
 * lets the Store count it among its open writers once it offers requestWriter() itself.
 */
export function createRequestWriter(conn: DuckDBConnection, onClose: (() => void) | null = null): Promise<RequestWriter> {
  return TableWriter.create<RequestRecord>(conn, 'requests', REQUEST_ACCESSORS, onClose);
}
