// The service map (cytoscape, canvas): nodes are services, pods or IPs (grouping selector), edges go
// client → server per protocol and port, labelled with rate, error % and p99, coloured by health
// (workspace/health.ts, Kiali's grammar: green / amber / red, grey when idle, blue for plain TCP/UDP).
// Toolbar: layout, search, hide / isolate the selection, zoom to its neighbourhood, fit. Selecting a
// node or edge (click, or from the element list for keyboard users) opens its RED numbers, with a link
// to its requests in the request log.

import cytoscape from 'cytoscape';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { FilterClause, MapEdge, MapNode, NodeGrouping, RedStats, ServiceMap } from '../../../shared/views';
import { Facts, SidePanel } from '../components/SidePanel';
import { formatBytes, formatCount, formatMaybeDuration, formatRate, formatRatio } from '../format';
import { HEALTH_LABEL, healthOf, type Health } from '../workspace/health';
import { layeredPositions } from './layered-layout';

export type MapLayout = 'layered' | 'breadthfirst' | 'cose' | 'concentric';

const HEALTH_COLOUR: Record<Health, string> = { healthy: '#3e8635', degraded: '#e59700', failure: '#c9190b', idle: '#8a8d90' };
const TRANSPORT_COLOUR = '#2b7bd6';
const EDGE_LIST_MAX = 300;

type Selection = { kind: 'node'; id: string } | { kind: 'edge'; id: string } | null;

/**
 * Edge labels show from zoom 6/9 (9 px text, min-zoomed-font-size 6), yet cytoscape measures and places
 * every label whenever the map is laid out or fitted: a third of the time to draw 1,600 edges, nearly
 * half with 6,400 (bench/ui.ts), for text too small to draw. So an edge gets its label once it is on
 * screen at a zoom that can show it (and keeps it): after a pan or zoom comes to rest, so that labelling
 * never holds up the frames of the gesture itself.
 */
const EDGE_LABEL_ZOOM = 6 / 9;

/** Labels the edges on screen that have none yet, when the zoom can show them; true when it labelled any. */
function labelEdgesInView(cy: cytoscape.Core): boolean {
  if (cy.zoom() < EDGE_LABEL_ZOOM) return false;
  const v = cy.extent();
  // The box of an edge's ends, widened for the bend of parallel edges: cheap, and near enough.
  const pad = 100;
  const due = cy.edges(':visible').filter((e) => {
    if (e.hasClass('labelled')) return false;
    const a = e.source().position();
    const b = e.target().position();
    return Math.min(a.x, b.x) - pad <= v.x2 && Math.max(a.x, b.x) + pad >= v.x1 && Math.min(a.y, b.y) - pad <= v.y2 && Math.max(a.y, b.y) + pad >= v.y1;
  });
  due.addClass('labelled');
  return due.nonempty();
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** "12.5 rps", "2 % err", "p99 45 ms": Kiali's edge label, one fact per line. */
export function edgeLabel(edge: MapEdge): string {
  const lines = [`${formatRate(edge.red.rate)} rps`];
  const errors = edge.red.clientErrors + edge.red.serverErrors;
  if (errors > 0) lines.push(`${formatRatio(edge.red.errorRatio)} err`);
  if (edge.red.durationP99 !== null) lines.push(`p99 ${formatMaybeDuration(edge.red.durationP99)}`);
  if (edge.red.requests === 0) return `${edge.protocol}:${edge.serverPort}`;
  return lines.join('\n');
}

function edgeColour(edge: MapEdge): string {
  if (edge.red.requests === 0) return edge.connectionFailures > 0 ? HEALTH_COLOUR.failure : TRANSPORT_COLOUR;
  return HEALTH_COLOUR[healthOf(edge.red)];
}

function stylesheet(): cytoscape.StylesheetJson {
  const fg = cssVar('--fg', '#1b1e24');
  const bg = cssVar('--bg', '#ffffff');
  const raised = cssVar('--bg-raised', '#f4f5f7');
  const accent = cssVar('--accent', '#2457d6');
  return [
    {
      selector: 'node',
      style: {
        label: 'data(label)',
        'background-color': raised,
        'border-width': 3,
        'border-color': 'data(colour)',
        color: fg,
        'font-size': 11,
        'text-valign': 'bottom',
        'text-margin-y': 4,
        'text-background-color': bg,
        'text-background-opacity': 0.8,
        'text-background-padding': '1px',
        width: 34,
        height: 34,
        shape: 'data(shape)' as unknown as cytoscape.Css.NodeShape,
      },
    },
    {
      selector: 'edge',
      style: {
        width: 2,
        'line-color': 'data(colour)',
        'target-arrow-color': 'data(colour)',
        'target-arrow-shape': 'vee',
        'curve-style': 'bezier',
        // Parallel edges (one per protocol and port) fan out far enough for their labels to part.
        'control-point-step-size': 70,
        'text-wrap': 'wrap',
        'font-size': 9,
        color: fg,
        'text-background-color': bg,
        'text-background-opacity': 0.85,
        'text-background-padding': '1px',
        'min-zoomed-font-size': 6,
      },
    },
    { selector: 'edge.labelled', style: { label: 'data(label)' } },
    { selector: 'edge.transport', style: { 'line-style': 'dashed', 'font-size': 8, color: cssVar('--fg-muted', '#5d6470') } },
    { selector: ':selected', style: { 'overlay-color': accent, 'overlay-opacity': 0.18, 'overlay-padding': 6 } },
    { selector: 'edge:selected', style: { width: 4 } },
    { selector: '.dimmed', style: { opacity: 0.15 } },
    { selector: '.match', style: { 'border-width': 5, 'border-color': accent } },
    { selector: '.hidden', style: { display: 'none' } },
  ];
}

function layoutOptions(name: MapLayout, cy: cytoscape.Core): cytoscape.LayoutOptions {
  if (name === 'layered') {
    const positions = layeredPositions({ nodes: cy.nodes().map((n) => n.id()), edges: cy.edges().map((e) => ({ source: e.source().id(), target: e.target().id() })) });
    return { name: 'preset', positions: (node: cytoscape.NodeSingular) => positions.get(node.id()) ?? { x: 0, y: 0 }, padding: 30, animate: false } as cytoscape.LayoutOptions;
  }
  if (name === 'breadthfirst') {
    // Pure clients (nothing calls them) as roots. (`maximal` would push callees below callers but
    // throws on some DAGs in cytoscape 3.34; the layered layout does that instead.)
    const roots = cy.nodes().filter((n) => n.indegree(false) === 0);
    return { name, directed: true, roots: roots.length > 0 ? roots : undefined, spacingFactor: 1.2, padding: 30, animate: false } as cytoscape.LayoutOptions;
  }
  if (name === 'concentric') return { name, minNodeSpacing: 60, padding: 30, animate: false } as cytoscape.LayoutOptions;
  // cose runs until its temperature (1000, × coolingFactor per iteration) falls below 1: ~690 iterations
  // of O(n²) repulsion at the default 0.99, 3–20 s for 320 services here (bench/ui.ts, 2 loaded cores).
  // Large maps cool faster (66 iterations, a tenth of the work) and the result still untangles.
  const coolingFactor = cy.nodes().length > 100 ? 0.9 : 0.99;
  return { name: 'cose', padding: 30, animate: false, nodeRepulsion: () => 400000, idealEdgeLength: () => 120, randomize: false, coolingFactor } as cytoscape.LayoutOptions;
}

function elementsOf(map: ServiceMap): cytoscape.ElementDefinition[] {
  const nodes = map.nodes.map((n) => ({
    group: 'nodes' as const,
    data: { id: n.id, label: n.label, colour: HEALTH_COLOUR[healthOf(n.served)], shape: n.kind === 'ip' ? 'ellipse' : n.kind === 'pod' ? 'round-hexagon' : 'round-rectangle' },
  }));
  const edges = map.edges.map((e) => ({
    group: 'edges' as const,
    data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e), colour: edgeColour(e) },
    classes: e.red.requests === 0 ? 'transport' : '',
  }));
  return [...nodes, ...edges];
}

/**
 * Cytoscape injects a <style> element (`.__________cytoscape_container { position: relative }`) unless
 * an element with its id exists; the strict CSP blocks injected styles, so claim the id with an inert
 * element and carry the rule in styles.css instead.
 */
function preventCytoscapeStyleInjection(): void {
  const id = '__________cytoscape_stylesheet';
  if (document.getElementById(id)) return;
  const marker = document.createElement('meta');
  marker.id = id;
  document.head.append(marker);
}

declare global {
  interface Window {
    /** The live graph, so end-to-end tests can find where an edge is drawn on the canvas. */
    flowscopeMap?: cytoscape.Core;
  }
}

export function ServiceMapView(props: {
  map: ServiceMap | null;
  error: string | null;
  grouping: NodeGrouping;
  onGrouping: (g: NodeGrouping) => void;
  onDrill: (filter: FilterClause[]) => void;
  themeKey: string;
}) {
  const { map, onDrill } = props;
  const container = useRef<HTMLDivElement>(null);
  const cyRef = useRef<cytoscape.Core | null>(null);
  // What the canvas shows (layout + map). A refetch that brings the same answer — coming back to this tab
  // draws the map kept from before at once, then the query's answer arrives — keeps what is drawn: no
  // second layout, and the zoom and pan the user made since then stay.
  const drawnKey = useRef('');
  const [layout, setLayout] = useState<MapLayout>('layered');
  const [search, setSearch] = useState('');
  const [selection, setSelection] = useState<Selection>(null);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const [isolated, setIsolated] = useState<string | null>(null);
  const close = useCallback(() => setSelection(null), []);

  useEffect(() => {
    if (!container.current) return;
    preventCytoscapeStyleInjection();
    // minZoom low enough for Fit to show a map of hundreds of nodes whole (320 services need ~0.18).
    const cy = cytoscape({ container: container.current, style: stylesheet(), minZoom: 0.05, maxZoom: 3, boxSelectionEnabled: false });
    cy.on('tap', 'node', (e) => setSelection({ kind: 'node', id: e.target.id() }));
    cy.on('tap', 'edge', (e) => setSelection({ kind: 'edge', id: e.target.id() }));
    cy.on('tap', (e) => {
      if (e.target === cy) setSelection(null);
    });
    cyRef.current = cy;
    window.flowscopeMap = cy;
    // The canvas follows its box (side panel opening, window resizing); refit while the user has not
    // zoomed or panned.
    let userMoved = false;
    let labelling: ReturnType<typeof setTimeout> | undefined;
    cy.on('viewport', (e) => {
      if (e.originalEvent) userMoved = true;
      clearTimeout(labelling);
      labelling = setTimeout(() => labelEdgesInView(cy), 150);
    });
    cy.on('layoutstop', () => {
      userMoved = false;
    });
    const resize = new ResizeObserver(() => {
      cy.resize();
      if (!userMoved) cy.fit(cy.elements(':visible'), 30);
    });
    resize.observe(container.current);
    return () => {
      clearTimeout(labelling);
      resize.disconnect();
      cy.destroy();
      cyRef.current = null;
      drawnKey.current = '';
      if (window.flowscopeMap === cy) delete window.flowscopeMap;
    };
  }, []);

  useEffect(() => {
    cyRef.current?.style(stylesheet());
  }, [props.themeKey]);

  // New data or layout: redraw and lay out. Each step leaves a performance measure (flowscope:map-elements,
  // -layout, -drawn: up to the first frame painted), which bench/ui.ts reads; nothing else looks at them.
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    const key = `${layout}\n${JSON.stringify(map)}`;
    if (key === drawnKey.current) return;
    drawnKey.current = key;
    const t0 = performance.now();
    cy.elements().remove();
    if (map) cy.add(elementsOf(map));
    const t1 = performance.now();
    cy.layout(layoutOptions(layout, cy)).run();
    const t2 = performance.now();
    cy.fit(undefined, 30);
    // A small map is drawn close enough for its labels: frame it again with them.
    if (labelEdgesInView(cy)) cy.fit(undefined, 30);
    const detail = { layout, nodes: cy.nodes().length, edges: cy.edges().length };
    performance.measure('flowscope:map-elements', { start: t0, end: t1, detail });
    performance.measure('flowscope:map-layout', { start: t1, end: t2, detail });
    cy.one('render', () => performance.measure('flowscope:map-drawn', { start: t0, detail }));
  }, [map, layout]);

  // Hide, isolate, search and selection only restyle.
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    cy.batch(() => {
      cy.elements().removeClass('hidden dimmed match');
      for (const id of hidden) cy.getElementById(id).addClass('hidden').connectedEdges().addClass('hidden');
      if (isolated) {
        const keep = cy.getElementById(isolated).closedNeighborhood();
        cy.elements().difference(keep).addClass('hidden');
      }
      const q = search.trim().toLowerCase();
      if (q) {
        const matches = cy.nodes().filter((n) => String(n.data('label')).toLowerCase().includes(q) || n.id().toLowerCase().includes(q));
        matches.addClass('match');
        cy.elements().difference(matches.closedNeighborhood()).addClass('dimmed');
      }
      cy.elements().unselect();
      if (selection) cy.getElementById(selection.id).select();
    });
  }, [hidden, isolated, search, selection, map]);

  // Hiding or isolating changes what is on screen: frame it.
  useEffect(() => {
    const cy = cyRef.current;
    if (cy && cy.elements().length > 0) cy.animate({ fit: { eles: cy.elements(':visible'), padding: 30 }, duration: 200 });
  }, [hidden, isolated]);

  const zoomTo = (ids: cytoscape.CollectionReturnValue | cytoscape.NodeCollection) => cyRef.current?.animate({ fit: { eles: ids, padding: 40 }, duration: 250 });
  const selectedNode = selection?.kind === 'node' ? map?.nodes.find((n) => n.id === selection.id) : undefined;
  const selectedEdge = selection?.kind === 'edge' ? map?.edges.find((e) => e.id === selection.id) : undefined;
  const nodeLabel = useMemo(() => new Map(map?.nodes.map((n) => [n.id, n.label]) ?? []), [map]);
  const label = (id: string) => nodeLabel.get(id) ?? id;

  const empty = map !== null && map.nodes.length === 0;
  // A long list costs more than it helps: the busiest edges, in the API's order otherwise.
  const listedEdges = useMemo(() => {
    const edges = map?.edges ?? [];
    return edges.length <= EDGE_LIST_MAX ? edges : [...edges].sort((a, b) => b.red.requests - a.red.requests || b.bytes - a.bytes).slice(0, EDGE_LIST_MAX);
  }, [map]);

  return (
    <section className="view view--map" aria-label="Service map">
      <div className="view__toolbar">
        <label>
          Nodes{' '}
          <select value={props.grouping} onChange={(e) => props.onGrouping(e.target.value as NodeGrouping)} aria-label="Group nodes by">
            <option value="service">services</option>
            <option value="pod">pods</option>
            <option value="ip">IPs</option>
          </select>
        </label>
        <label>
          Layout{' '}
          <select value={layout} onChange={(e) => setLayout(e.target.value as MapLayout)} aria-label="Layout">
            <option value="layered">layered</option>
            <option value="breadthfirst">breadth-first</option>
            <option value="cose">force (cose)</option>
            <option value="concentric">concentric</option>
          </select>
        </label>
        <input
          type="search"
          placeholder="Find node…"
          aria-label="Find node"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && cyRef.current) zoomTo(cyRef.current.nodes('.match'));
          }}
        />
        <button type="button" className="button button--small" disabled={!selection} onClick={() => selection && (setHidden(new Set([...hidden, selection.id])), setSelection(null))}>
          Hide selected
        </button>
        <button type="button" className="button button--small" disabled={selection?.kind !== 'node'} onClick={() => selection && setIsolated(selection.id)}>
          Isolate
        </button>
        <button
          type="button"
          className="button button--small"
          disabled={!selection}
          onClick={() => {
            const cy = cyRef.current;
            if (!cy || !selection) return;
            const el = cy.getElementById(selection.id);
            zoomTo(selection.kind === 'node' ? el.closedNeighborhood() : (el as unknown as cytoscape.EdgeSingular).connectedNodes().closedNeighborhood());
          }}
        >
          Zoom to neighbourhood
        </button>
        <button
          type="button"
          className="button button--small"
          disabled={hidden.size === 0 && isolated === null}
          onClick={() => {
            setHidden(new Set());
            setIsolated(null);
          }}
        >
          Show all
        </button>
        <button type="button" className="button button--small" onClick={() => cyRef.current?.animate({ fit: { eles: cyRef.current.elements(':visible'), padding: 30 }, duration: 250 })}>
          Fit
        </button>
        <span className="toolbar__spacer" />
        <Legend />
      </div>
      <div className="view__body">
        <div className="view__main map-canvas-wrap">
          <div className="map-canvas" ref={container} data-testid="service-map" aria-label="Service map graph" role="img" />
          {props.error && <p className="notice notice--error map-overlay" role="alert">{props.error}</p>}
          {empty && (
            <div className="empty-state map-overlay">
              <h2>No traffic between endpoints in this window</h2>
              <p className="muted">Open a capture with TCP or UDP conversations, or widen the time window (Reset above the chart).</p>
            </div>
          )}
        </div>
        {selectedEdge ? (
          <SidePanel title={`${label(selectedEdge.source)} → ${label(selectedEdge.target)}`} onClose={close} testId="map-details">
            <p className="muted">
              {selectedEdge.protocol} on port {selectedEdge.serverPort} · {HEALTH_LABEL[selectedEdge.red.requests === 0 ? 'idle' : healthOf(selectedEdge.red)]}
            </p>
            <RedFacts red={selectedEdge.red} />
            <Facts
              label="Network"
              items={[
                ['Flows', formatCount(selectedEdge.flows)],
                ['Bytes', formatBytes(selectedEdge.bytes)],
                ['Connection failures', formatCount(selectedEdge.connectionFailures)],
              ]}
            />
            <button
              type="button"
              className="button"
              onClick={() =>
                onDrill([
                  { field: 'client_node', op: '=', value: selectedEdge.source },
                  { field: 'server_node', op: '=', value: selectedEdge.target },
                  { field: 'l7_protocol', op: '=', value: selectedEdge.protocol },
                  { field: 'server_port', op: '=', value: selectedEdge.serverPort },
                ])
              }
            >
              Show these requests
            </button>
          </SidePanel>
        ) : selectedNode ? (
          <SidePanel title={selectedNode.label} onClose={close} testId="map-details">
            <NodeFacts node={selectedNode} />
            <button type="button" className="button" onClick={() => onDrill([{ field: 'server_node', op: '=', value: selectedNode.id }])}>
              Show requests it served
            </button>{' '}
            <button type="button" className="button" onClick={() => onDrill([{ field: 'client_node', op: '=', value: selectedNode.id }])}>
              Show requests it made
            </button>
          </SidePanel>
        ) : (
          map &&
          map.edges.length > 0 && (
            <aside className="side-panel side-panel--list" aria-label="Map elements">
              <h2>Edges</h2>
              {map.edges.length > EDGE_LIST_MAX && (
                <p className="muted">
                  The {EDGE_LIST_MAX} busiest of {formatCount(map.edges.length)}; find a node or narrow the window for the rest.
                </p>
              )}
              <ul className="element-list">
                {listedEdges.map((e) => (
                  <li key={e.id}>
                    <button type="button" className="link-button" onClick={() => setSelection({ kind: 'edge', id: e.id })}>
                      <span className={`dot dot--${e.red.requests === 0 ? 'idle' : healthOf(e.red)}`} aria-hidden="true" />
                      {label(e.source)} → {label(e.target)} <span className="muted">{e.protocol}:{e.serverPort}</span>
                    </button>
                  </li>
                ))}
              </ul>
            </aside>
          )
        )}
      </div>
    </section>
  );
}

export function RedFacts(props: { red: RedStats }) {
  const r = props.red;
  return (
    <Facts
      label="RED"
      items={[
        ['Requests', formatCount(r.requests)],
        ['Rate', `${formatRate(r.rate)} rps`],
        ['Responses', formatCount(r.responses)],
        ['Client errors', formatCount(r.clientErrors)],
        ['Server errors', formatCount(r.serverErrors)],
        ['Timeouts', formatCount(r.timeouts)],
        ['Error ratio', formatRatio(r.errorRatio)],
        ['Duration p50', formatMaybeDuration(r.durationP50)],
        ['Duration p90', formatMaybeDuration(r.durationP90)],
        ['Duration p99', formatMaybeDuration(r.durationP99)],
        ['Duration max', formatMaybeDuration(r.durationMax)],
      ]}
    />
  );
}

function NodeFacts(props: { node: MapNode }) {
  const n = props.node;
  return (
    <>
      <Facts
        label="Node"
        items={[
          ['Kind', n.kind],
          ['Namespace', n.namespace ?? '—'],
          ['IPs', n.ips.join(', ') || '—'],
        ]}
      />
      {n.served ? <RedFacts red={n.served} /> : <p className="muted">Served no requests (a client only).</p>}
    </>
  );
}

function Legend() {
  return (
    <span
      className="legend"
      aria-label="Health colours"
      title="Failure: server errors ≥ 10 % of responses, all errors ≥ 20 %, or timeouts ≥ 10 %. Degraded: errors or timeouts above 0.1 %. Dashed blue: TCP/UDP without decoded requests."
    >
      {(['healthy', 'degraded', 'failure', 'idle'] as Health[]).map((h) => (
        <span key={h} className="legend__item">
          <span className={`dot dot--${h}`} aria-hidden="true" />
          {HEALTH_LABEL[h]}
        </span>
      ))}
    </span>
  );
}
