// captureSummary: the overview of one or more captures, computed in DuckDB. Counting rules (flow
// rows vs unique connections, the representative row) are documented in shared/summary.ts.
import { CONNECTION_FAILURE_CLOSE_TYPES } from '../../shared/records';
import {
  CONNECTION_GAP_US,
  OBSERVATION_POINT_PREFERENCE,
  PROTOCOL_CLASSES,
  RESET_CLOSE_TYPES,
  TIMEOUT_CLOSE_TYPE,
  closeTypeName,
  type CaptureSummary,
  type CloseTypeCount,
  type ProtocolClass,
  type SummaryConversation,
  type SummaryInterface,
  type SummaryProtocol,
  type TcpHealth,
} from '../../shared/summary';
import type { Store } from './store';

export interface SummaryOptions {
  /** How many conversations to list (default 10). */
  topConversations?: number;
}

const TUPLE = 'client_ip, client_port, server_ip, server_port, protocol';
/** A connection's identity on every hop: the client side and its SYN's sequence number when the handshake
 * was seen (unchanged by DNAT, which rewrites the server address), else the 5-tuple. */
const CONN_KEY = `CASE WHEN protocol = 6 AND syn_seq >= 0
  THEN concat_ws('|', client_ip, client_port, protocol, 'syn', syn_seq)
  ELSE concat_ws('|', ${TUPLE}) END`;

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL rank of observation_point by OBSERVATION_POINT_PREFERENCE (lower is preferred). */
const OP_RANK = `CASE observation_point ${OBSERVATION_POINT_PREFERENCE.map(
  (op, i) => `WHEN ${sqlString(op)} THEN ${i}`,
).join(' ')} ELSE ${OBSERVATION_POINT_PREFERENCE.length} END`;

const PROTOCOL_CLASS = `CASE protocol WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmp' ELSE 'other' END`;

function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

export async function captureSummary(
  store: Store,
  captureIds?: readonly number[],
  options: SummaryOptions = {},
): Promise<CaptureSummary> {
  const top = options.topConversations ?? 10;
  if (!Number.isInteger(top) || top < 0) throw new Error(`captureSummary: bad topConversations ${top}`);
  for (const id of captureIds ?? []) {
    if (!Number.isInteger(id)) throw new Error(`captureSummary: bad capture id ${id}`);
  }
  const filter = captureIds === undefined ? 'TRUE' : captureIds.length === 0 ? 'FALSE' : `capture_id IN (${captureIds.join(', ')})`;
  // Its own connection: the temp tables below are private to it and vanish with it.
  const conn = await store.connect();
  const rows = async (sql: string): Promise<unknown[][]> => (await conn.runAndReadAll(sql)).getRows();

  // Every flow row with its connection number; then one representative row per connection.
  const rowsTable = 'summary_rows';
  const repsTable = 'summary_reps';
  try {
    await conn.run(`
      CREATE TEMP TABLE ${rowsTable} AS
      WITH gaps AS (
        SELECT *, CASE WHEN lag(start_time) OVER w IS NULL OR start_time - lag(start_time) OVER w > ${CONNECTION_GAP_US}
                       THEN 1 ELSE 0 END AS is_new
        FROM (SELECT *, ${CONN_KEY} AS conn_key FROM flows WHERE ${filter})
        WINDOW w AS (PARTITION BY conn_key ORDER BY start_time, flow_id)
      )
      SELECT *, sum(is_new) OVER (PARTITION BY conn_key ORDER BY start_time, flow_id
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS conn_no
      FROM gaps`);
    await conn.run(`
      CREATE TEMP TABLE ${repsTable} AS
      SELECT * FROM ${rowsTable}
      QUALIFY row_number() OVER (PARTITION BY conn_key, conn_no
                                 ORDER BY ${OP_RANK}, packets_tx + packets_rx DESC, flow_id) = 1`);

    const captures = (
      await rows(`
        SELECT capture_id, source, kind, started_at, ended_at, packets, bytes, file_bytes,
               malformed_packets, non_ip_packets, error
        FROM captures WHERE ${filter} ORDER BY capture_id`)
    ).map((r) => ({
      captureId: num(r[0]),
      source: String(r[1]),
      kind: String(r[2]),
      startedAt: numOrNull(r[3]),
      endedAt: numOrNull(r[4]),
      packets: num(r[5]),
      bytes: num(r[6]),
      fileBytes: num(r[7]),
      malformedPackets: num(r[8]),
      nonIpPackets: num(r[9]),
      error: r[10] === null ? null : String(r[10]),
    }));

    const [[flowRows, connections, flowFirst, flowLast]] = await rows(`
      SELECT (SELECT count(*) FROM ${rowsTable}), (SELECT count(*) FROM ${repsTable}),
             (SELECT min(start_time) FROM ${rowsTable}), (SELECT max(end_time) FROM ${rowsTable})`);

    // Protocol mix.
    const byClass = new Map<ProtocolClass, SummaryProtocol>();
    for (const p of PROTOCOL_CLASSES) byClass.set(p, { protocol: p, flowRows: 0, connections: 0, packets: 0, bytes: 0 });
    for (const r of await rows(`SELECT ${PROTOCOL_CLASS} AS c, count(*) FROM ${rowsTable} GROUP BY c`)) {
      byClass.get(r[0] as ProtocolClass)!.flowRows = num(r[1]);
    }
    for (const r of await rows(`
      SELECT ${PROTOCOL_CLASS} AS c, count(*), sum(packets_tx + packets_rx), sum(bytes_tx + bytes_rx)
      FROM ${repsTable} GROUP BY c`)) {
      const p = byClass.get(r[0] as ProtocolClass)!;
      p.connections = num(r[1]);
      p.packets = num(r[2]);
      p.bytes = num(r[3]);
    }

    // Top conversations by bytes (ties broken by the tuple so the order is stable).
    const topConversations: SummaryConversation[] = (
      await rows(`
        WITH r AS (
          SELECT ${TUPLE}, count(*) AS connections, sum(packets_tx + packets_rx) AS packets,
                 sum(bytes_tx + bytes_rx) AS bytes
          FROM ${repsTable} GROUP BY ALL
        ), a AS (
          SELECT ${TUPLE}, count(*) AS flow_rows, count(DISTINCT observation_point) AS ops,
                 count(DISTINCT (capture_id, if_index)) AS ifs
          FROM ${rowsTable} GROUP BY ALL
        )
        SELECT r.client_ip, r.client_port, r.server_ip, r.server_port, r.protocol,
               connections, flow_rows, packets, bytes, ops, ifs
        FROM r JOIN a USING (${TUPLE})
        ORDER BY bytes DESC, packets DESC, r.client_ip, r.client_port, r.server_ip, r.server_port, r.protocol
        LIMIT ${top}`)
    ).map((r) => ({
      clientIp: String(r[0]),
      clientPort: num(r[1]),
      serverIp: String(r[2]),
      serverPort: num(r[3]),
      protocol: num(r[4]),
      connections: num(r[5]),
      flowRows: num(r[6]),
      packets: num(r[7]),
      bytes: num(r[8]),
      observationPoints: num(r[9]),
      interfaces: num(r[10]),
    }));

    const tcp = await tcpHealth(rows, rowsTable, repsTable);

    const interfaces: SummaryInterface[] = (
      await rows(`
        WITH f AS (
          SELECT capture_id, if_index, count(*) AS flow_rows, sum(packets_tx + packets_rx) AS packets,
                 sum(bytes_tx + bytes_rx) AS bytes
          FROM ${rowsTable} GROUP BY ALL
        ), i AS (SELECT capture_id, if_index, name, kind FROM interfaces WHERE ${filter})
        SELECT capture_id, if_index, coalesce(name, ''), coalesce(kind, ''), coalesce(flow_rows, 0),
               coalesce(packets, 0), coalesce(bytes, 0)
        FROM i FULL OUTER JOIN f USING (capture_id, if_index)
        ORDER BY capture_id, if_index`)
    ).map((r) => ({
      captureId: num(r[0]),
      ifIndex: num(r[1]),
      name: String(r[2]),
      kind: String(r[3]),
      flowRows: num(r[4]),
      packets: num(r[5]),
      bytes: num(r[6]),
    }));

    const observationPoints = (
      await rows(`
        SELECT observation_point, count(*) AS n FROM ${rowsTable} GROUP BY ALL ORDER BY n DESC, observation_point`)
    ).map((r) => ({ observationPoint: String(r[0]), flowRows: num(r[1]) }));

    const capStarts = captures.map((c) => c.startedAt).filter((x): x is number => x !== null);
    const capEnds = captures.map((c) => c.endedAt).filter((x): x is number => x !== null);
    const firstTime = capStarts.length > 0 ? Math.min(...capStarts) : numOrNull(flowFirst);
    const lastTime = capEnds.length > 0 ? Math.max(...capEnds) : numOrNull(flowLast);
    const sum = (k: 'packets' | 'bytes' | 'malformedPackets' | 'nonIpPackets'): number =>
      captures.reduce((s, c) => s + c[k], 0);

    let ids: number[];
    if (captureIds !== undefined) ids = [...captureIds].sort((a, b) => a - b);
    else {
      ids = (
        await rows(`SELECT capture_id FROM captures UNION SELECT DISTINCT capture_id FROM flows ORDER BY 1`)
      ).map((r) => num(r[0]));
    }

    return {
      captureIds: ids,
      captures,
      packets: sum('packets'),
      bytes: sum('bytes'),
      malformedPackets: sum('malformedPackets'),
      nonIpPackets: sum('nonIpPackets'),
      firstTime,
      lastTime,
      durationUs: firstTime !== null && lastTime !== null ? lastTime - firstTime : null,
      flowRows: num(flowRows),
      connections: num(connections),
      protocols: PROTOCOL_CLASSES.map((p) => byClass.get(p)!),
      topConversations,
      tcp,
      interfaces,
      observationPoints,
    };
  } finally {
    conn.closeSync();
  }
}

async function tcpHealth(
  rows: (sql: string) => Promise<unknown[][]>,
  rowsTable: string,
  repsTable: string,
): Promise<TcpHealth> {
  const [r] = await rows(`
    SELECT (SELECT count(*) FROM ${rowsTable} WHERE protocol = 6),
           count(*),
           count(*) FILTER (WHERE handshake_seen),
           coalesce(sum(packets_tx + packets_rx), 0),
           coalesce(sum(retrans_tx), 0), coalesce(sum(retrans_rx), 0),
           coalesce(sum(zero_win_tx), 0), coalesce(sum(zero_win_rx), 0),
           coalesce(sum(ooo_tx), 0), coalesce(sum(ooo_rx), 0),
           count(*) FILTER (WHERE rtt > 0),
           quantile_disc(rtt, [0.5, 0.9, 0.99]) FILTER (WHERE rtt > 0),
           max(rtt) FILTER (WHERE rtt > 0),
           coalesce(sum(srt_count), 0), sum(srt_sum) / nullif(sum(srt_count), 0), max(srt_max) FILTER (WHERE srt_count > 0),
           coalesce(sum(art_count), 0), sum(art_sum) / nullif(sum(art_count), 0), max(art_max) FILTER (WHERE art_count > 0)
    FROM ${repsTable} WHERE protocol = 6`);
  const closeCounts = new Map<number, number>();
  for (const c of await rows(`SELECT close_type, count(*) FROM ${repsTable} WHERE protocol = 6 GROUP BY ALL`)) {
    closeCounts.set(num(c[0]), num(c[1]));
  }
  const count = (code: number): CloseTypeCount => ({
    closeType: code,
    name: closeTypeName(code),
    connections: closeCounts.get(code) ?? 0,
  });
  const failures = CONNECTION_FAILURE_CLOSE_TYPES.map(count);
  const resets = RESET_CLOSE_TYPES.map(count);
  const closeTypes = [...closeCounts.keys()]
    .map(count)
    .sort((a, b) => b.connections - a.connections || a.closeType - b.closeType);
  const total = (list: CloseTypeCount[]): number => list.reduce((s, c) => s + c.connections, 0);

  const packets = num(r[3]);
  const retransTx = num(r[4]);
  const retransRx = num(r[5]);
  const rttCount = num(r[10]);
  const q = (r[11] as { items: unknown[] } | null)?.items ?? [null, null, null];
  return {
    flowRows: num(r[0]),
    connections: num(r[1]),
    handshakesSeen: num(r[2]),
    connectionFailures: { total: total(failures), byType: failures },
    resets: { total: total(resets), byType: resets },
    timeouts: closeCounts.get(TIMEOUT_CLOSE_TYPE) ?? 0,
    closeTypes,
    packets,
    retransTx,
    retransRx,
    retransRatio: packets > 0 ? (retransTx + retransRx) / packets : null,
    zeroWinTx: num(r[6]),
    zeroWinRx: num(r[7]),
    oooTx: num(r[8]),
    oooRx: num(r[9]),
    rtt: {
      count: rttCount,
      p50: numOrNull(q[0]),
      p90: numOrNull(q[1]),
      p99: numOrNull(q[2]),
      max: numOrNull(r[12]),
    },
    srt: { count: num(r[13]), avg: numOrNull(r[14]), max: numOrNull(r[15]) },
    art: { count: num(r[16]), avg: numOrNull(r[17]), max: numOrNull(r[18]) },
  };
}
