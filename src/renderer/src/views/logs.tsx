// The request log and the flow log: their columns, filter fields, presets and detail groups.

import type { ReactNode } from 'react';
import { BUILTIN_L7_PROTOCOLS, CloseType } from '../../../shared/records';
import type { FilterClause, FlowRow, LogRequest, RequestRow } from '../../../shared/views';
import type { LogColumn } from '../components/LogTable';
import { formatBytes, formatMaybeDuration, formatTimestamp } from '../format';
import { fieldOf } from '../workspace/fields';
import type { FilterField } from '../workspace/filters';
import type { ViewsApi } from '../workspace/views-api';
import { LogView } from './LogView';
import { RequestPathPanel } from './RequestPathPanel';

const TIME_KEYS = new Set(['startTime', 'endTime']);
const DURATION_KEYS = new Set(['duration', 'rtt', 'rttClient', 'rttServer', 'srtSum', 'srtMax', 'artSum', 'artMax', 'citSum', 'citMax']);

export function formatField(key: string, value: unknown): ReactNode {
  if (value === null || value === undefined || value === '') return <span className="muted">—</span>;
  if (TIME_KEYS.has(key) && typeof value === 'number') return `${formatTimestamp(value)} (${value})`;
  if (DURATION_KEYS.has(key) && typeof value === 'number') return `${formatMaybeDuration(value)} (${value} µs)`;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (key === 'closeType' && typeof value === 'number') return `${closeTypeName(value)} (${value})`;
  return String(value);
}

function col<Row>(key: keyof Row & string, label: string, width: number, options: Partial<LogColumn<Row>> = {}): LogColumn<Row> {
  return {
    key,
    label,
    width,
    field: fieldOf(key),
    initial: false,
    value: (row) => row[key],
    render: (row) => {
      const v = row[key];
      return v === null || v === undefined ? <span className="muted">—</span> : String(v);
    },
    ...options,
  };
}

const CLOSE_NAME = new Map<number, string>(Object.entries(CloseType).map(([name, code]) => [code, name]));

/** DeepFlow close_type as a word ("Normal", "ServerRst", …), the code when unknown. */
export function closeTypeName(code: number): string {
  return CLOSE_NAME.get(code) ?? String(code);
}

const STATUS_CLASS: Record<string, string> = { client_error: 'status status--warn', server_error: 'status status--bad', timeout: 'status status--bad', ok: 'status status--ok' };

export const REQUEST_COLUMNS: LogColumn<RequestRow>[] = [
  col('startTime', 'Time (UTC)', 215, { initial: true, render: (r) => formatTimestamp(r.startTime) }),
  col('clientNode', 'Client', 140, { initial: true }),
  col('serverNode', 'Server', 140, { initial: true }),
  col('l7Protocol', 'Protocol', 80, { initial: true }),
  col('requestType', 'Method', 110, { initial: true }), // 'simple query' (PostgreSQL), 'OPTIONS'
  col('requestDomain', 'Domain', 150),
  col('requestResource', 'Resource', 240, { initial: true }),
  col('endpoint', 'Endpoint', 180),
  col('responseStatus', 'Status', 110, { initial: true, render: (r) => <span className={STATUS_CLASS[r.responseStatus] ?? 'status'}>{r.responseStatus}</span> }),
  col('responseCode', 'Code', 60, { initial: true, numeric: true }),
  col('responseException', 'Exception', 160),
  col('duration', 'Duration', 90, { initial: true, numeric: true, render: (r) => formatMaybeDuration(r.duration) }),
  col('requestLength', 'Req bytes', 80, { numeric: true }),
  col('responseLength', 'Resp bytes', 80, { numeric: true }),
  col('clientIp', 'Client IP', 120),
  col('serverIp', 'Server IP', 120),
  col('serverPort', 'Port', 60, { numeric: true }),
  col('observationPoint', 'Observed at', 130),
  col('hops', 'Hops', 50, { numeric: true, initial: true }),
  col('traceId', 'Trace id', 200),
  col('xRequestId0', 'x-request-id', 200),
  col('reqTcpSeq', 'Req TCP seq', 110, { numeric: true }),
];

export const FLOW_COLUMNS: LogColumn<FlowRow>[] = [
  col('startTime', 'Start (UTC)', 215, { initial: true, render: (r) => formatTimestamp(r.startTime) }),
  col('clientNode', 'Client', 140, { initial: true }),
  col('serverNode', 'Server', 140, { initial: true }),
  col('clientIp', 'Client IP', 120),
  col('clientPort', 'Client port', 80, { numeric: true }),
  col('serverIp', 'Server IP', 120),
  col('serverPort', 'Port', 60, { initial: true, numeric: true }),
  col('protocol', 'IP proto', 70, { numeric: true, render: (r) => (r.protocol === 6 ? 'TCP' : r.protocol === 17 ? 'UDP' : String(r.protocol)) }),
  col('l7Protocol', 'L7', 70, { initial: true }),
  col('observationPoint', 'Observed at', 130, { initial: true }),
  col('hops', 'Hops', 50, { numeric: true, initial: true }),
  col('packetsTx', 'Pkts →', 70, { numeric: true, initial: true }),
  col('packetsRx', 'Pkts ←', 70, { numeric: true, initial: true }),
  col('bytesTx', 'Bytes →', 80, { numeric: true, initial: true, render: (r) => formatBytes(r.bytesTx) }),
  col('bytesRx', 'Bytes ←', 80, { numeric: true, initial: true, render: (r) => formatBytes(r.bytesRx) }),
  col('retransTx', 'Retrans →', 75, { numeric: true }),
  col('retransRx', 'Retrans ←', 75, { numeric: true }),
  col('rtt', 'RTT', 80, { numeric: true, initial: true, render: (r) => (r.rtt ? formatMaybeDuration(r.rtt) : '—') }),
  col('closeType', 'Close', 130, { initial: true, render: (r) => closeTypeName(r.closeType), value: (r) => closeTypeName(r.closeType) }),
  col('tunnelType', 'Tunnel', 70),
  col('synSeq', 'SYN seq', 110, { numeric: true }),
];

export const REQUEST_FIELDS: FilterField[] = [
  { field: 'response_status', label: 'Status', numeric: false, values: ['ok', 'client_error', 'server_error', 'timeout', 'unknown'] },
  { field: 'l7_protocol', label: 'Protocol', numeric: false, values: BUILTIN_L7_PROTOCOLS },
  { field: 'client_node', label: 'Client', numeric: false },
  { field: 'server_node', label: 'Server', numeric: false },
  { field: 'request_type', label: 'Method', numeric: false },
  { field: 'request_resource', label: 'Resource', numeric: false },
  { field: 'endpoint', label: 'Endpoint', numeric: false },
  { field: 'response_code', label: 'Code', numeric: true },
  { field: 'duration', label: 'Duration (µs)', numeric: true },
  { field: 'server_port', label: 'Server port', numeric: true },
  { field: 'client_ip', label: 'Client IP', numeric: false },
  { field: 'server_ip', label: 'Server IP', numeric: false },
  { field: 'trace_id', label: 'Trace id', numeric: false },
  { field: 'observation_point', label: 'Observed at', numeric: false },
];

export const FLOW_FIELDS: FilterField[] = [
  { field: 'client_node', label: 'Client', numeric: false },
  { field: 'server_node', label: 'Server', numeric: false },
  { field: 'server_port', label: 'Server port', numeric: true },
  { field: 'l7_protocol', label: 'L7', numeric: false },
  { field: 'protocol', label: 'IP proto', numeric: true },
  { field: 'close_type', label: 'Close type', numeric: true },
  { field: 'retrans_tx', label: 'Retrans →', numeric: true },
  { field: 'client_ip', label: 'Client IP', numeric: false },
  { field: 'server_ip', label: 'Server IP', numeric: false },
  { field: 'observation_point', label: 'Observed at', numeric: false },
];

export const ERRORS_FILTER: FilterClause[] = [{ field: 'response_status', op: 'in', value: ['client_error', 'server_error', 'timeout'] }];

export function RequestsView(props: { api: ViewsApi; scopeKey: string; scope: LogRequest; filter: FilterClause[]; onFilter: (f: FilterClause[]) => void }) {
  const { api, scope } = props;
  return (
    <LogView<RequestRow>
      kind="requests"
      noun="Request log"
      scopeKey={props.scopeKey}
      columns={REQUEST_COLUMNS}
      fields={REQUEST_FIELDS}
      presets={[{ label: 'Errors only', clauses: ERRORS_FILTER }]}
      filter={props.filter}
      onFilter={props.onFilter}
      fetchPage={(request) => api.requestLog({ ...scope, ...request })}
      rowKey={(r) => `${r.captureId}:${r.requestId}`}
      detailTitle={(r) => `${r.l7Protocol.toUpperCase()} ${r.requestType ?? ''} ${r.requestResource ?? ''}`.trim()}
      detailExtra={(r) => <RequestPathPanel api={api} captureIds={scope.captureIds} requestId={r.requestId} />}
      detailGroups={[
        { title: 'Request', keys: ['l7Protocol', 'version', 'requestType', 'requestDomain', 'requestResource', 'endpoint', 'requestLength'] },
        { title: 'Response', keys: ['responseStatus', 'responseCode', 'responseException', 'responseResult', 'responseLength'] },
        { title: 'Timings', keys: ['startTime', 'endTime', 'duration'] },
        { title: 'Endpoints', keys: ['clientNode', 'clientIp', 'clientPort', 'serverNode', 'serverIp', 'serverPort', 'observationPoint'] },
        { title: 'TCP', keys: ['reqTcpSeq', 'respTcpSeq', 'flowId'] },
        { title: 'Trace', keys: ['traceId', 'spanId', 'parentSpanId', 'xRequestId0', 'xRequestId1'] },
      ]}
      formatField={formatField}
      defaultSort={{ field: 'start_time' }}
      empty={<EmptyLog what="requests" filtered={props.filter.length > 0} />}
    />
  );
}

export function FlowsView(props: { api: ViewsApi; scopeKey: string; scope: LogRequest; filter: FilterClause[]; onFilter: (f: FilterClause[]) => void }) {
  const { api, scope } = props;
  return (
    <LogView<FlowRow>
      kind="flows"
      noun="Flow log"
      scopeKey={props.scopeKey}
      columns={FLOW_COLUMNS}
      fields={FLOW_FIELDS}
      presets={[
        { label: 'Retransmitting', clauses: [{ field: 'retrans_tx', op: '>', value: 0 }] },
        { label: 'TCP only', clauses: [{ field: 'protocol', op: '=', value: 6 }] },
      ]}
      filter={props.filter}
      onFilter={props.onFilter}
      fetchPage={(request) => api.flowLog({ ...scope, ...request })}
      rowKey={(r) => `${r.captureId}:${r.flowId}`}
      detailTitle={(r) => `${r.clientIp}:${r.clientPort} → ${r.serverIp}:${r.serverPort}`}
      detailGroups={[
        { title: 'Endpoints', keys: ['clientNode', 'clientIp', 'clientPort', 'serverNode', 'serverIp', 'serverPort', 'protocol', 'l7Protocol', 'observationPoint', 'ifIndex'] },
        { title: 'Timings', keys: ['startTime', 'endTime', 'rtt', 'rttClient', 'rttServer', 'srtSum', 'srtCount', 'srtMax', 'artSum', 'artCount', 'artMax'] },
        { title: 'Volume', keys: ['packetsTx', 'packetsRx', 'bytesTx', 'bytesRx', 'payloadTx', 'payloadRx'] },
        { title: 'TCP', keys: ['synSeq', 'synackSeq', 'handshakeSeen', 'synCount', 'synackCount', 'finCount', 'rstCount', 'retransTx', 'retransRx', 'zeroWinTx', 'zeroWinRx', 'oooTx', 'oooRx', 'closeType'] },
        { title: 'Tunnel', keys: ['tunnelType', 'tunnelId', 'tunnelOuterSrc', 'tunnelOuterDst', 'vlan'] },
      ]}
      formatField={formatField}
      defaultSort={{ field: 'start_time' }}
      empty={<EmptyLog what="flows" filtered={props.filter.length > 0} />}
    />
  );
}

function EmptyLog(props: { what: string; filtered: boolean }) {
  return (
    <div className="empty-state empty-state--inline">
      <h2>No {props.what} {props.filtered ? 'match these filters' : 'in this window'}</h2>
      <p className="muted">
        {props.filtered ? 'Remove a filter chip, or ' : ''}widen the time window (Reset above the chart), or open a capture with {props.what === 'requests' ? 'HTTP or DNS traffic' : 'traffic'}.
      </p>
    </div>
  );
}

