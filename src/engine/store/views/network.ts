// The network table: flows counted once per connection (dedupe.ts), per server node and protocol, or
// per edge (client node, server node, protocol, server port). Protocol = the flow's L7 protocol, else
// its transport. retransRatio = retransmitted segments both ways / packets; rttAvg over connections whose
// handshake was measured; srtAvg = Σ srt_sum / Σ srt_count (sums aggregate, averages do not).
import { ApiError } from '../../../shared/api';
import { TRANSFER_FAILURE_CLOSE_TYPES } from '../../../shared/records';
import type { NetworkRequest, NetworkRow } from '../../../shared/views';
import type { ViewContext } from './context';
import { rowsInScope } from './dedupe';
import { columnsNamed, FLOW_COLUMNS, filterSql } from './filter';
import { checkGrouping } from './nodes';
import { MAX_ROWS } from './red';
import { checkScope } from './scope';
import { CONNECTION_FAILURE_SQL, FLOW_PROTOCOL } from './service-map';
import { num, numOrNull, Params, rows } from './sql';

const SORT: Record<string, string> = {
  server: 'server',
  client: 'client',
  protocol: 'protocol',
  serverPort: 'server_port',
  flows: 'flows',
  packets: 'packets',
  bytes: 'bytes',
  retransRatio: 'retrans / nullif(packets, 0)',
  connectionFailures: 'connection_failures',
  transferFailures: 'transfer_failures',
  rttAvg: 'rtt_avg',
  srtAvg: 'srt_sum / nullif(srt_count, 0)',
};

export async function networkTable(ctx: ViewContext, req: NetworkRequest): Promise<NetworkRow[]> {
  const { conn } = ctx;
  const what = 'network';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  if (req.groupBy !== 'service' && req.groupBy !== 'edge') throw new ApiError('bad_request', `${what}: groupBy must be service or edge`);
  const limit = req.limit ?? MAX_ROWS;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_ROWS) throw new ApiError('bad_request', `${what}: limit is 0 to ${MAX_ROWS}`);
  const edge = req.groupBy === 'edge';
  const keys = edge ? ['client', 'server', 'protocol', 'server_port'] : ['server', 'protocol'];
  let order = `bytes DESC, ${keys.join(', ')}`;
  if (req.sort) {
    const expr = Object.prototype.hasOwnProperty.call(SORT, req.sort.field) ? SORT[req.sort.field] : undefined;
    if (expr === undefined || (['client', 'server_port'].includes(expr) && !edge)) {
      throw new ApiError('bad_request', `${what}: cannot sort by ${JSON.stringify(req.sort.field)}; one of: ${Object.keys(SORT).join(', ')}`);
    }
    order = `${expr} ${req.sort.desc ? 'DESC' : 'ASC'} NULLS LAST, ${keys.join(', ')}`;
  }
  const table = await ctx.flowTable(req.captureIds);
  const params = new Params();
  const source = rowsInScope(table, 'flow', req, grouping, params, columnsNamed(FLOW_COLUMNS, req.filter, what));
  const where = filterSql(params, req.filter, FLOW_COLUMNS, what);
  const select = edge
    ? `client_node AS client, server_node AS server, ${FLOW_PROTOCOL} AS protocol, server_port`
    : `server_node AS server, ${FLOW_PROTOCOL} AS protocol`;
  const found = await rows(
    conn,
    `SELECT * FROM (
       SELECT ${select}, count(*) AS flows, sum(packets_tx + packets_rx) AS packets, sum(bytes_tx + bytes_rx) AS bytes,
              sum(retrans_tx + retrans_rx) AS retrans,
              count(*) FILTER (WHERE ${CONNECTION_FAILURE_SQL}) AS connection_failures,
              -- TCP only: a UDP/ICMP flow always ends by timeout (close_type 3), which for them is not a
              -- failure (DeepFlow's metric is tcp_transfer_fail; its flow status takes a non-TCP timeout as ok).
              -- Without this every answered DNS query counted as a failed transfer.
              count(*) FILTER (WHERE protocol = 6 AND close_type IN (${TRANSFER_FAILURE_CLOSE_TYPES.join(', ')})) AS transfer_failures,
              avg(rtt) FILTER (WHERE rtt > 0) AS rtt_avg, sum(srt_sum) AS srt_sum, sum(srt_count) AS srt_count
       FROM ${source} WHERE ${where} GROUP BY ALL)
     ORDER BY ${order} LIMIT ${limit}`,
    params,
  );
  return found.map((r) => {
    const packets = num(r.packets);
    const srtCount = num(r.srt_count);
    const row: NetworkRow = {
      server: String(r.server),
      protocol: String(r.protocol),
      flows: num(r.flows),
      packets,
      bytes: num(r.bytes),
      retransRatio: packets > 0 ? num(r.retrans) / packets : 0,
      connectionFailures: num(r.connection_failures),
      transferFailures: num(r.transfer_failures),
      rttAvg: numOrNull(r.rtt_avg),
      srtAvg: srtCount > 0 ? num(r.srt_sum) / srtCount : null,
    };
    if (edge) {
      row.client = String(r.client);
      row.serverPort = num(r.server_port);
    }
    return row;
  });
}
