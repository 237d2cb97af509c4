// The network path of one request in its details panel: every observation point that saw it, in the
// order the request reached them (client veth → bridge → tunnel → underlay → the server's node),
// with when it got there and the duration seen there. The duration shrinking hop by hop is where
// the time goes: what lies between two hops took the difference.

import { useEffect, useState } from 'react';
import type { RequestHop, RequestPath } from '../../../shared/views';
import { formatDuration, formatMaybeDuration } from '../format';
import type { ViewsApi } from '../workspace/views-api';

type Loaded = { state: 'loading' } | { state: 'ready'; path: RequestPath } | { state: 'failed'; reason: string };

export function RequestPathPanel(props: { api: ViewsApi; captureIds: number[] | undefined; requestId: number }) {
  const { api, captureIds, requestId } = props;
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const scope = captureIds?.join(',');
  useEffect(() => {
    let live = true;
    setLoaded({ state: 'loading' });
    api.requestPath({ captureIds: scope === undefined ? undefined : scope.split(',').filter(Boolean).map(Number), requestId }).then(
      (path) => live && setLoaded({ state: 'ready', path }),
      (err: unknown) => live && setLoaded({ state: 'failed', reason: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [api, scope, requestId]);

  return (
    <section className="details-group" aria-label="Network path">
      <h3>Network path{loaded.state === 'ready' ? ` · ${loaded.path.hops.length} ${loaded.path.hops.length === 1 ? 'hop' : 'hops'}` : ''}</h3>
      {loaded.state === 'loading' && <p className="muted">Loading…</p>}
      {loaded.state === 'failed' && <p className="notice--error">{loaded.reason}</p>}
      {loaded.state === 'ready' && <HopTable hops={loaded.path.hops} />}
    </section>
  );
}

function HopTable(props: { hops: RequestHop[] }) {
  const first = props.hops[0]?.startTime ?? 0;
  return (
    <table className="path-table">
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Interface</th>
          <th scope="col" title="Observation point: c / s = the client's / the server's own interface, c-nd / s-nd = on the client's / server's node, local, rest">
            At
          </th>
          <th scope="col" className="num" title="When the request reached this hop, after the first">
            +time
          </th>
          <th scope="col" className="num" title="Response time seen at this hop">
            Duration
          </th>
        </tr>
      </thead>
      <tbody>
        {props.hops.map((h, i) => (
          <tr key={h.requestId} className={h.chosen ? 'path-table__chosen' : undefined} title={hopTitle(h)}>
            <td>{i + 1}</td>
            <td>
              <span className="path-table__if">{h.interfaceName ?? `ifindex ${h.ifIndex}`}</span>
              <span className="muted path-table__kind">
                {h.interfaceKind ?? 'unknown'} · if {h.ifIndex}
              </span>
              {h.tunnelType !== '' && (
                <div className="muted">
                  {h.tunnelType} {h.tunnelId} · {h.tunnelOuterSrc} → {h.tunnelOuterDst}
                </div>
              )}
            </td>
            <td>{h.observationPoint}</td>
            <td className="num">{i === 0 ? '0' : `+${formatDuration(h.startTime - first)}`}</td>
            <td className="num">
              {formatMaybeDuration(h.duration)}
              {h.chosen && <span className="path-table__mark" aria-label="the row the log and RED count"> ●</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function hopTitle(h: RequestHop): string {
  const code = h.responseCode === null ? '' : ` ${h.responseCode}`;
  return `${h.clientIp}:${h.clientPort} → ${h.serverIp}:${h.serverPort} · ${h.responseStatus}${code}${h.chosen ? ' · counted here' : ''}`;
}
