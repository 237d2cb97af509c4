// Names learned from the DNS answers of a capture (SPEC.md "Auto-tagging"): every A/AAAA answer IP is
// named by the question's name (kind 'dns'), and a Kubernetes service name `<svc>.<ns>.svc.<domain>`
// (or a pod of a headless service, `<host>.<svc>.<ns>.svc.<domain>`) also names the service.
// Input is the requests table: l7/dns.ts puts the question name in request_resource and the answers in
// response_result as `TYPE=value TTL=n` joined by '; '.

import type { Store } from '../store/store';
import { normalizeIp } from './ip-text';
import { TagSet, replaceTags, withTagTransaction } from './tag-store';

const RECORD = /^(A|AAAA)=(\S+) TTL=\d+$/;

/**
 * The addresses of the A and AAAA records in a response_result. A record cut off by the result's length
 * limit has lost its ` TTL=` and is left out (its address may be cut short too).
 */
export function answerIps(result: string): string[] {
  const out: string[] = [];
  for (const part of result.split('; ')) {
    const m = RECORD.exec(part);
    if (m === null) continue;
    const ip = normalizeIp(m[2]);
    if (ip !== null && !out.includes(ip)) out.push(ip);
  }
  return out;
}

/** The service a cluster DNS name stands for, or null when the name is not under `<ns>.svc.`. */
export function serviceOfName(qname: string): { name: string; namespace: string } | null {
  const labels = qname.toLowerCase().replace(/\.$/, '').split('.');
  // The last 'svc' label with a service and a namespace before it and a cluster domain after it.
  for (let i = labels.length - 2; i >= 2; i--) {
    if (labels[i] !== 'svc') continue;
    const name = labels[i - 2];
    const namespace = labels[i - 1];
    if (name !== '' && namespace !== '') return { name, namespace };
  }
  return null;
}

/** The DNS tags in a set of (qname, response_result) rows. */
export function dnsTags(rows: Iterable<[qname: string, result: string]>): TagSet {
  const set = new TagSet();
  for (const [qname0, result] of rows) {
    // DNS names are case-insensitive (and some resolvers randomise case): one name, one resource.
    const qname = qname0.toLowerCase().replace(/\.$/, '');
    if (qname === '') continue;
    const ips = answerIps(result);
    if (ips.length === 0) continue;
    const svc = serviceOfName(qname);
    for (const ip of ips) {
      set.link(ip, { kind: 'dns', name: qname, namespace: null, labels: null });
      if (svc !== null) set.link(ip, { kind: 'service', name: svc.name, namespace: svc.namespace, labels: null });
    }
  }
  return set;
}

/**
 * Learns names from the DNS responses (rcode 0) stored for one capture and replaces what was learned
 * from it before; returns the number of distinct IPs named. Without a capture id, every capture with
 * DNS requests is learned from. Run it after the capture's import has committed its requests.
 */
export async function learnDnsNames(store: Store, captureId?: number): Promise<number> {
  let ids: number[];
  if (captureId === undefined) {
    const r = await store.query(`SELECT DISTINCT capture_id FROM requests WHERE l7_protocol = 'dns' ORDER BY 1`);
    ids = r.rows.map((row) => Number(row[0]));
  } else {
    ids = [captureId];
  }
  let named = 0;
  for (const id of ids) {
    named += await withTagTransaction(store, async (conn) => {
      const reader = await conn.runAndReadAll(
        `SELECT DISTINCT request_resource, response_result FROM requests
          WHERE capture_id = $1 AND l7_protocol = 'dns' AND response_code = 0
            AND request_resource IS NOT NULL AND response_result IS NOT NULL`,
        [id],
      );
      const set = dnsTags(reader.getRows().map((r) => [String(r[0]), String(r[1])] as [string, string]));
      await replaceTags(conn, { source: 'dns', captureId: id }, set);
      return set.ipCount();
    });
  }
  return named;
}
