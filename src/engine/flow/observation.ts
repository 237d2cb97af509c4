// Observation points (DeepFlow's tap_side vocabulary: c, s, c-nd, s-nd, local, rest) for the flows
// of one capture, decided after import from what the whole capture shows:
// - the address behind a veth is the one that appears in the most flows on it (the pod), if one
//   address clearly does (a tie names none);
//   pods behind this capture's veths are "local";
// - on a veth: the pod is the client → 'c', the server → 's';
// - on a bridge, a tunnel device, or any interface carrying encapsulated traffic: the client is a
//   local pod → 'c-nd', the server is → 's-nd', both are → 'local';
// - on another NIC where one address takes part in most flows (the host itself): 'c' / 's';
// - loopback or client = server: 'local'; anything else: 'rest'.

/** Interface kind guessed from its name, as Linux, CNI plugins and Docker name them. */
export function interfaceKind(name: string): string {
  const n = name.toLowerCase();
  if (n === 'lo' || n.startsWith('loopback')) return 'lo';
  if (n === 'any') return 'any';
  if (/^(veth|cali|lxc|vnet|tap|azv|eni)/.test(n)) return 'veth';
  if (/^(cni|cbr|docker|br-|br\d|virbr|kube-bridge|bridge|ovs|weave)/.test(n)) return 'bridge';
  if (/^(vxlan|flannel|genev|tunl|gre|erspan|ip6tnl|ipip|sit|cilium_vxlan|cilium_geneve|nodelocaldns|wg|tun)/.test(n))
    return 'vxlan';
  if (/^(eth|en|em|wl|bond|ib|p\d)/.test(n)) return 'eth';
  return 'unknown';
}

/** SQL that sets flows.observation_point for one capture (run after its flows and interfaces are stored). */
export function observationPointSql(captureId: number): string {
  const c = Math.trunc(captureId);
  return `
WITH iface AS (
  SELECT if_index, kind FROM interfaces WHERE capture_id = ${c}
),
ends AS (
  SELECT if_index, ip, count(*) AS n FROM (
    SELECT if_index, client_ip AS ip FROM flows WHERE capture_id = ${c}
    UNION ALL
    SELECT if_index, server_ip AS ip FROM flows WHERE capture_id = ${c}
  ) GROUP BY ALL
),
per_if AS (
  SELECT if_index, count(*) AS flows FROM flows WHERE capture_id = ${c} GROUP BY ALL
),
-- The address in the most flows on the interface; a tie (e.g. a single flow) names no owner, so the
-- answer never depends on which of two equal candidates the database happens to return.
ranked AS (
  SELECT if_index, ip, n,
    row_number() OVER (PARTITION BY if_index ORDER BY n DESC, ip) AS rk,
    lead(n) OVER (PARTITION BY if_index ORDER BY n DESC, ip) AS next_n
  FROM ends
),
owner AS (
  SELECT if_index, ip, n FROM ranked WHERE rk = 1 AND (next_n IS NULL OR n > next_n)
),
owner_ok AS (
  SELECT o.if_index, o.ip, i.kind FROM owner o JOIN per_if p USING (if_index) JOIN iface i USING (if_index)
  WHERE i.kind = 'veth' OR (i.kind IN ('eth', 'unknown') AND o.n * 2 > p.flows AND p.flows >= 2)
),
local_ips AS (
  SELECT DISTINCT ip FROM owner_ok WHERE kind = 'veth'
),
decided AS (
  SELECT f.flow_id,
    CASE
      WHEN i.kind = 'lo' OR f.client_ip = f.server_ip THEN 'local'
      WHEN i.kind = 'veth' THEN
        CASE WHEN f.client_ip = o.ip THEN 'c' WHEN f.server_ip = o.ip THEN 's' ELSE 'rest' END
      WHEN i.kind IN ('bridge', 'vxlan') OR f.tunnel_type <> '' THEN
        CASE
          WHEN f.client_ip IN (SELECT ip FROM local_ips) AND f.server_ip IN (SELECT ip FROM local_ips) THEN 'local'
          WHEN f.client_ip IN (SELECT ip FROM local_ips) THEN 'c-nd'
          WHEN f.server_ip IN (SELECT ip FROM local_ips) THEN 's-nd'
          ELSE 'rest'
        END
      WHEN o.ip IS NOT NULL THEN
        CASE WHEN f.client_ip = o.ip THEN 'c' WHEN f.server_ip = o.ip THEN 's' ELSE 'rest' END
      ELSE 'rest'
    END AS op
  FROM flows f
  LEFT JOIN iface i USING (if_index)
  LEFT JOIN owner_ok o USING (if_index)
  WHERE f.capture_id = ${c}
)
UPDATE flows SET observation_point = decided.op
FROM decided
WHERE flows.flow_id = decided.flow_id AND flows.capture_id = ${c}`;
}
