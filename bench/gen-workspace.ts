// A large workspace for the view benchmarks (issue #4 "Must measure"): a Flowscope store with
// `services` services (2 pods each, tagged through resources/ip_resources), connections between them
// seen at one or two observation points, and `requests` unique requests spread over one hour (a third
// of the connections are seen on the client side too, so their requests are stored twice, as a
// multi-hop capture stores them). Written with set-based SQL so a million rows take seconds.
// Every row is a pure function of its index, so the truth below is exact, not sampled.

import { rmSync } from 'node:fs';
import { Store } from '../src/engine/store/store';

export interface WorkspaceSpec {
  path: string;
  services?: number;
  connections?: number;
  requests?: number;
}

export interface WorkspaceTruth {
  services: number;
  connections: number;
  /** Unique requests (what RED must count). */
  requests: number;
  /** Request rows stored (hop copies included). */
  requestRows: number;
  flowRows: number;
  startUs: number;
  endUs: number;
}

export const WORKSPACE_START_US = 1_790_000_000_000_000;
const HOUR_US = 3_600_000_000;

export async function generateWorkspace(spec: WorkspaceSpec): Promise<WorkspaceTruth> {
  const services = spec.services ?? 320;
  const connections = spec.connections ?? 40_000;
  const requests = spec.requests ?? 1_000_000;
  for (const f of [spec.path, `${spec.path}.wal`]) rmSync(f, { force: true });
  const store = await Store.open(spec.path);
  const c = store.conn;
  const t0 = WORKSPACE_START_US;
  // Pod IP of service s, replica k: 10.<s / 250>.<s % 250>.<10 + k>.
  const podIp = (s: string, k: string) => `'10.' || (${s} // 250) || '.' || (${s} % 250) || '.' || (10 + ${k})`;
  await c.run(`
    INSERT INTO captures VALUES (1, 'generated workspace', 'pcapng', ${t0}, ${t0 + HOUR_US}, 0, 0, 0, 0, 0, NULL, ${t0});
    INSERT INTO interfaces VALUES (1, 1, 'veth-client', '', 1, 'veth', 0), (1, 2, 'veth-server', '', 1, 'veth', 0);

    CREATE TEMP TABLE conn AS
    SELECT i AS conn,
           (hash(i) % ${services})::INTEGER AS srv,
           ((hash(i) % ${services}) + 1 + hash(i * 7 + 1) % 5)::INTEGER % ${services} AS cli,
           (hash(i * 3 + 2) % 2)::INTEGER AS srv_pod,
           (hash(i * 5 + 3) % 2)::INTEGER AS cli_pod,
           (i % 3 = 0) AS two_hops,
           (20000 + i % 40000)::INTEGER AS cport
    FROM range(${connections}) t(i);

    INSERT INTO flows
    SELECT conn * 2 + hop + 1, 1, hop + 1, CASE hop WHEN 0 THEN 'c' ELSE 's' END,
      ${t0} + conn * (${HOUR_US} // ${connections}), ${t0} + conn * (${HOUR_US} // ${connections}) + ${HOUR_US} // 10,
      4, 6, ${podIp('cli', 'cli_pod')}, ${podIp('srv', 'srv_pod')}, cport, 8080,
      '', -1, '', '',
      100, 90, 20000, 150000, 1, 1, (conn % 17 = 0)::INTEGER, 0, 0, 0, 0, 0,
      300 + conn % 700, 100 + conn % 300, 200 + conn % 400, 5000, 40, 900, 60000, 40, 9000, 0, 0, 0,
      CASE WHEN conn % 97 = 0 THEN 7 ELSE 1 END, 'http', -1, 15000, 140000, 1, 0, true,
      conn * 1000, conn * 1000 + 7
    FROM conn, range(2) h(hop)
    WHERE hop = 1 OR two_hops;

    CREATE TEMP TABLE req AS
    SELECT r, r % ${connections} AS conn,
           ${t0} + (r * (${HOUR_US} // ${requests})) AS ts,
           (hash(r * 11 + 5) % 1000)::INTEGER AS roll,
           (200 + hash(r * 13 + 7) % 20000 + CASE WHEN hash(r) % 100 = 0 THEN 400000 ELSE 0 END)::BIGINT AS dur
    FROM range(${requests}) t(r);

    INSERT INTO requests
    SELECT row_number() OVER (), conn.conn * 2 + hop + 1, 1, hop + 1, CASE hop WHEN 0 THEN 'c' ELSE 's' END,
      ts, ts + dur, CASE WHEN roll < 5 THEN NULL ELSE dur END,
      'http', '1.1', CASE WHEN roll % 4 = 0 THEN 'POST' ELSE 'GET' END, 'svc-' || srv,
      '/api/v1/items/' || (r % 5000), '/api/v1/' || (ARRAY['items/{id}', 'users/{id}', 'orders', 'health', 'search'])[1 + roll % 5],
      CASE WHEN roll < 5 THEN 'timeout' WHEN roll < 25 THEN 'server_error' WHEN roll < 55 THEN 'client_error' ELSE 'ok' END,
      CASE WHEN roll < 5 THEN NULL WHEN roll < 25 THEN 500 WHEN roll < 55 THEN 404 ELSE 200 END,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      r * 100, r * 100 + 50, 120, 900,
      ${podIp('cli', 'cli_pod')}, ${podIp('srv', 'srv_pod')}, cport, 8080, 'packet'
    FROM req JOIN conn USING (conn), range(2) h(hop)
    WHERE hop = 1 OR two_hops;

    INSERT INTO resources
    SELECT s * 3 + k, CASE k WHEN 0 THEN 'service' ELSE 'pod' END,
           CASE k WHEN 0 THEN 'svc-' || s ELSE 'svc-' || s || '-pod-' || (k - 1) END, 'bench', NULL, 'k8s'
    FROM range(${services}) a(s), range(3) b(k);
    INSERT INTO ip_resources
    SELECT ${podIp('s', 'p')}, s * 3 + k, NULL, NULL, NULL
    FROM range(${services}) a(s), range(2) b(p), range(3) c(k)
    WHERE k = 0 OR k = p + 1;
  `);
  const count = async (sql: string) => Number((await c.runAndReadAll(sql)).getRows()[0][0]);
  const truth: WorkspaceTruth = {
    services,
    connections,
    requests,
    requestRows: await count('SELECT count(*) FROM requests'),
    flowRows: await count('SELECT count(*) FROM flows'),
    startUs: t0,
    endUs: t0 + HOUR_US,
  };
  await store.close();
  return truth;
}
