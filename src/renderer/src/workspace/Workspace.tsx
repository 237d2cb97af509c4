// The workspace: a left navigation of views, the time chart and window above the data views, and the
// view itself. Every data view asks the engine with the same scope (the window), so brushing the
// chart moves the map, the tables and the logs together.

import { lazy, Suspense, useCallback, useReducer, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { FilterClause, NetworkRequest, RedGroupBy, RedRequest, SortSpec } from '../../../shared/views';
import type { AppApi } from '../api';
import { formatDuration, formatTimeOfDay } from '../format';
import { FlowsView, RequestsView } from '../views/logs';
import { NetworkView, type NetworkGroupBy } from '../views/NetworkView';
import { RedView } from '../views/RedView';
import { useApiCall } from './use-api-call';
import { viewsApi } from './views-api';
import { initialWorkspace, scopeOf, VIEWS, workspaceReducer, type ViewId } from './workspace-state';

// The graph and chart libraries are most of the bundle: load them when a view first needs them, so
// the window (and the capture list) appears at once.
const ServiceMapView = lazy(() => import('../views/ServiceMapView').then((m) => ({ default: m.ServiceMapView })));
const TimeChart = lazy(() => import('../views/TimeChart').then((m) => ({ default: m.TimeChart })));

const NAV_ICON: Record<ViewId, string> = { captures: '▤', map: '◎', red: '▦', network: '⇄', requests: '≣', flows: '≋' };

export function Workspace(props: { api: AppApi | null; hasCaptures: boolean; dataKey: string; themeKey: string; captures: ReactNode }) {
  const { api, dataKey, themeKey } = props;
  const [state, dispatch] = useReducer(workspaceReducer, initialWorkspace);
  const views = api ? viewsApi(api) : null;
  const scope = scopeOf(state);
  // Logs name nodes the way the map does, so a drill from the map matches its rows.
  const logScope = { ...scope, grouping: state.grouping };
  const scopeKey = JSON.stringify([logScope, dataKey]);
  const dataView = state.view !== 'captures';
  const live = views !== null && props.hasCaptures;

  // RED and network table settings live here so switching views keeps them.
  const [redGroupBy, setRedGroupBy] = useState<RedGroupBy>('service');
  const [redSort, setRedSort] = useState<SortSpec>({ field: 'requests', desc: true });
  const [redSearch, setRedSearch] = useState('');
  const [redFilter, setRedFilter] = useState<FilterClause[]>([]);
  const [netGroupBy, setNetGroupBy] = useState<NetworkGroupBy>('service');
  const [netSort, setNetSort] = useState<SortSpec>({ field: 'bytes', desc: true });
  const [netSearch, setNetSearch] = useState('');
  const [netFilter, setNetFilter] = useState<FilterClause[]>([]);

  // The chart has no node filter, so the grouping cannot change its answer: it is not refetched when the
  // grouping changes (the engine runs view queries one at a time, so it would hold up the map's).
  const series = useApiCall(live && dataView ? () => views.timeSeries({}) : null, JSON.stringify(['ts', live && dataView, dataKey]));
  const mapRequest = { ...scope, grouping: state.grouping };
  const map = useApiCall(live && state.view === 'map' ? () => views.serviceMap(mapRequest) : null, JSON.stringify(['map', live && state.view, mapRequest, dataKey]));
  // RED filters name request fields, network filters flow fields; both have server_node.
  const serverFilter = (text: string): FilterClause[] => (text.trim() ? [{ field: 'server_node', op: 'contains', value: text.trim() }] : []);
  const redRequest: RedRequest = { ...scope, grouping: state.grouping, groupBy: redGroupBy, sort: redSort, filter: [...serverFilter(redSearch), ...redFilter], limit: 1000, sparkline: 24 };
  const red = useApiCall(live && state.view === 'red' ? () => views.red(redRequest) : null, JSON.stringify(['red', live && state.view, redRequest, dataKey]));
  const netRequest: NetworkRequest = { ...scope, grouping: state.grouping, groupBy: netGroupBy, sort: netSort, filter: [...serverFilter(netSearch), ...netFilter], limit: 1000 };
  const net = useApiCall(live && state.view === 'network' ? () => views.network(netRequest) : null, JSON.stringify(['net', live && state.view, netRequest, dataKey]));

  const busy = (state.view === 'map' && map.loading) || (state.view === 'red' && red.loading) || (state.view === 'network' && net.loading);

  const drillRequests = useCallback((filter: FilterClause[]) => dispatch({ type: 'drill', log: 'requests', filter }), []);
  const drillFlows = useCallback((filter: FilterClause[]) => dispatch({ type: 'drill', log: 'flows', filter }), []);
  const setWindow = useCallback((window: { from?: number; to?: number }) => dispatch({ type: 'window', window }), []);

  let body: ReactNode;
  if (state.view === 'captures') body = props.captures;
  else if (!views) body = <NotReady text="Not connected to a Flowscope engine." />;
  else if (!props.hasCaptures) body = <NotReady text="Open a capture first: File → Open, drop a pcap/pcapng file here, or start `flowscope serve <file>`." />;
  else if (state.view === 'map')
    body = (
      <Suspense fallback={<p className="muted">Loading the map…</p>}>
        <ServiceMapView map={map.data} error={map.error} grouping={state.grouping} onGrouping={(grouping) => dispatch({ type: 'grouping', grouping })} onDrill={drillRequests} themeKey={themeKey} />
      </Suspense>
    );
  else if (state.view === 'red')
    body = (
      <RedView groupBy={redGroupBy} onGroupBy={setRedGroupBy} table={red.data} error={red.error} sort={redSort} onSort={setRedSort} search={redSearch} onSearch={setRedSearch} filter={redFilter} onFilter={setRedFilter} onDrill={drillRequests} />
    );
  else if (state.view === 'network')
    body = (
      <NetworkView
        groupBy={netGroupBy}
        onGroupBy={setNetGroupBy}
        rows={net.data}
        error={net.error}
        sort={netSort}
        onSort={setNetSort}
        search={netSearch}
        onSearch={setNetSearch}
        filter={netFilter}
        onFilter={setNetFilter}
        onDrill={drillFlows}
      />
    );
  else if (state.view === 'requests')
    body = <RequestsView api={views} scope={logScope} scopeKey={scopeKey} filter={state.requestFilter} onFilter={(filter) => dispatch({ type: 'requestFilter', filter })} />;
  else body = <FlowsView api={views} scope={logScope} scopeKey={scopeKey} filter={state.flowFilter} onFilter={(filter) => dispatch({ type: 'flowFilter', filter })} />;

  return (
    <div className="workspace">
      <Nav view={state.view} onView={(view) => dispatch({ type: 'view', view })} />
      <div className="workspace__content">
        {dataView && live && (
          <div className="time-bar">
            <div className="time-bar__head">
              <span className="time-bar__window" data-testid="time-window" data-from={state.window?.from} data-to={state.window?.to}>
                {state.window?.from !== undefined && state.window.to !== undefined
                  ? `Window ${formatTimeOfDay(state.window.from)} – ${formatTimeOfDay(state.window.to)} UTC (${formatDuration(state.window.to - state.window.from)})`
                  : 'Window: all time'}
              </span>
              <button type="button" className="button button--small" disabled={state.window === null} onClick={() => dispatch({ type: 'window', window: null })}>
                Reset window
              </button>
              <span className="muted time-bar__hint">Drag across the chart to choose a time window.</span>
            </div>
            {series.error ? (
              <p className="notice notice--error" role="alert">{series.error}</p>
            ) : series.data ? (
              <Suspense fallback={<div className="time-chart time-chart--loading muted">Loading…</div>}>
                <TimeChart series={series.data} window={state.window} onWindow={setWindow} themeKey={themeKey} />
              </Suspense>
            ) : (
              <div className="time-chart time-chart--loading muted">Loading…</div>
            )}
          </div>
        )}
        {/* While a view's answer for the current scope is on its way, the previous one stays, dimmed. */}
        <div className={busy ? 'workspace__view workspace__view--busy' : 'workspace__view'} aria-busy={busy}>
          {body}
        </div>
      </div>
    </div>
  );
}

function NotReady(props: { text: string }) {
  return (
    <section className="empty-state" aria-label="Nothing to show">
      <h2>Nothing to show yet</h2>
      <p className="muted">{props.text}</p>
    </section>
  );
}

/** Vertical tabs; ↑/↓ move between them (WAI-ARIA tabs pattern), Tab moves into the view. */
function Nav(props: { view: ViewId; onView: (view: ViewId) => void }) {
  const list = useRef<HTMLDivElement>(null);
  const onKey = (event: KeyboardEvent) => {
    const index = VIEWS.findIndex((v) => v.id === props.view);
    let next = index;
    if (event.key === 'ArrowDown' || event.key === 'ArrowRight') next = (index + 1) % VIEWS.length;
    else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') next = (index - 1 + VIEWS.length) % VIEWS.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = VIEWS.length - 1;
    else return;
    event.preventDefault();
    props.onView(VIEWS[next].id);
    (list.current?.children[next] as HTMLElement | undefined)?.focus();
  };
  return (
    <nav className="nav" aria-label="Views">
      <div role="tablist" aria-orientation="vertical" ref={list} onKeyDown={onKey}>
        {VIEWS.map((v) => (
          <button
            key={v.id}
            type="button"
            role="tab"
            aria-selected={props.view === v.id}
            tabIndex={props.view === v.id ? 0 : -1}
            className={props.view === v.id ? 'nav__tab nav__tab--on' : 'nav__tab'}
            onClick={() => props.onView(v.id)}
          >
            <span className="nav__icon" aria-hidden="true">{NAV_ICON[v.id]}</span>
            {v.label}
          </button>
        ))}
      </div>
    </nav>
  );
}
