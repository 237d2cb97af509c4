// What a map node is called under each grouping (SPEC.md "RED and the service map": a service when
// tags name one, otherwise the IP). Names come from the ip_names view at query time, so tags added
// later re-label old data — through NAMES_TABLE, the view copied into a temp table of the Views'
// connection whenever the store changes (index.ts): joining the view itself twice per request row cost
// three times as much on 1M requests.
//
// - 'ip':      the IP itself.
// - 'pod':     the pod's name, else the IP.
// - 'service': the service, else the workload, else a DNS name learned from the capture, else the
//              process, else the IP.
import { ApiError } from '../../../shared/api';
import type { NodeGrouping } from '../../../shared/views';

export const GROUPINGS: readonly NodeGrouping[] = ['service', 'pod', 'ip'];

/** The ip_names view as of the last store change (built by Views, index.ts). */
export const NAMES_TABLE = 'views_ip_names';

export function checkGrouping(grouping: unknown, what: string): NodeGrouping {
  if (grouping === undefined) return 'service';
  if (GROUPINGS.includes(grouping as NodeGrouping)) return grouping as NodeGrouping;
  throw new ApiError('bad_request', `${what}: grouping must be one of ${GROUPINGS.join(', ')}`);
}

/** The tag columns tried in order, for `names` (an ip_names row alias). */
function tagColumns(grouping: NodeGrouping, names: string): string[] {
  switch (grouping) {
    case 'ip':
      return [];
    case 'pod':
      return [`${names}.pod`];
    case 'service':
      return [`${names}.service`, `${names}.workload`, `${names}.dns_name`, `${names}.process`];
  }
}

/** SQL for the node name of `ip` (an expression) given the ip_names row `names` joined on it. */
export function nodeExpr(grouping: NodeGrouping, ip: string, names: string): string {
  const cols = tagColumns(grouping, names);
  return cols.length === 0 ? ip : `coalesce(${cols.join(', ')}, ${ip})`;
}

/** SQL: true when a tag named the node (it is not just the IP). */
export function namedExpr(grouping: NodeGrouping, names: string): string {
  const cols = tagColumns(grouping, names);
  return cols.length === 0 ? 'FALSE' : `(${cols.map((c) => `${c} IS NOT NULL`).join(' OR ')})`;
}

/** LEFT JOINs naming both ends of `alias` (a row set with client_ip, server_ip): cn.*, sn.*. */
export function nameJoins(alias: string, grouping: NodeGrouping): string {
  if (grouping === 'ip') return '';
  return `LEFT JOIN ${NAMES_TABLE} cn ON cn.ip = ${alias}.client_ip LEFT JOIN ${NAMES_TABLE} sn ON sn.ip = ${alias}.server_ip`;
}

/** client_node, server_node columns for a row set joined with nameJoins. */
export function nodeColumns(alias: string, grouping: NodeGrouping): string {
  return `${nodeExpr(grouping, `${alias}.client_ip`, 'cn')} AS client_node, ${nodeExpr(grouping, `${alias}.server_ip`, 'sn')} AS server_node`;
}
