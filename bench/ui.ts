// The UI half of issue #4's "Must measure", in the real page: `flowscope serve --db <workspace>` (the
// large generated workspace of bench/gen-workspace.ts: 1 M unique requests, 320 services) driven in
// Debian's Chromium through Playwright, like a person — open the page, click the Service map, switch
// layouts and grouping, pan and zoom, open RED, scroll the request log and jump to its middle and end.
// Times are taken inside the page (performance.now(), requestAnimationFrame timestamps, the renderer's
// flowscope:map-* performance measures, resource timing of the API calls), not around Playwright's
// round trips. Query latency per view is bench/views.ts's.
// Standalone: node --import tsx bench/ui.ts [workspace.duckdb]
//   (default bench/data/workspace-ui.duckdb, generated once and then reused).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { DuckDBInstance } from '@duckdb/node-api';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/chromium';
import { startServe } from '../e2e/serve-process';
import { generateWorkspace } from './gen-workspace';

const ROOT = join(import.meta.dirname, '..');
const VIEWPORT = { width: 1440, height: 900 };
const WAIT_MS = 120_000;

export interface FrameStats {
  /** requestAnimationFrame callbacks seen. */
  frames: number;
  seconds: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  /** Frames a 60 Hz display would have shown but the page did not produce, as a share of them all. */
  droppedShare: number;
}

export interface MapDraw {
  what: string;
  nodes: number;
  edges: number;
  /** From the user's click or choice to the first frame with the new map painted. */
  totalMs: number;
  /** The serviceMap API call as the page saw it (query + JSON over HTTP), when one was made. */
  apiMs: number | null;
  /** cytoscape: removing the old elements and adding the new ones. */
  elementsMs: number;
  /** Computing and applying the layout. */
  layoutMs: number;
  /** From the end of the layout to the first frame cytoscape drew. */
  drawMs: number;
}

export interface LogJump {
  to: string;
  /** From setting scrollTop to every visible row showing real content. */
  ms: number;
  /** The first visible row's index (1-based, like aria-rowindex minus the header). */
  firstRow: number;
  /** The slowest requestLog call it made (query + JSON). */
  apiMs: number;
}

export interface UiTimings {
  workspace: { path: string; requestRows: number; services: number; renderer: string };
  load: number;
  /** Idle page, nothing moving: the machine's own frame cadence. */
  idle: FrameStats;
  page: { firstPaintMs: number | null; firstContentfulPaintMs: number | null; captureListMs: number };
  maps: MapDraw[];
  panZoom: { what: string; frames: FrameStats; renders: number }[];
  /** Back on the map tab: its refetch (query + JSON), when it arrived after the click, and whether the map was drawn again. */
  mapReturn: { apiMs: number | null; arrivedMs: number | null; redrawnMs: number | null };
  red: { ms: number; apiMs: number | null; rows: number };
  log: {
    total: number;
    firstRowsMs: number;
    screens: number;
    rowsScrolled: number;
    scroll: FrameStats;
    /** Frames during the scroll where a visible row still said "Loading…". */
    loadingFrames: number;
    /** From the end of the scroll until every visible row had content. */
    settleMs: number;
    /** requestLog calls made while scrolling, sorted (query + JSON, as the page saw them). */
    pageFetchMs: number[];
    jumps: LogJump[];
  };
  seconds: number;
}

// Installed in the page before its scripts (plain JS: it is sent as text).
const IN_PAGE = String.raw`
(() => {
  const B = { lastAction: 0 };
  performance.setResourceTimingBufferSize(100000);
  // A person's click or choice: the moment it reached the page.
  for (const type of ['click', 'change']) document.addEventListener(type, () => { B.lastAction = performance.now(); }, true);
  const raf = () => new Promise((r) => requestAnimationFrame(r));
  B.raf = raf;
  B.frames = async (ms, step) => {
    const stamps = [];
    const t0 = await raf();
    let t = t0;
    while (t - t0 < ms) {
      stamps.push(t);
      if (step) step((t - t0) / ms);
      t = await raf();
    }
    stamps.push(t);
    return stamps;
  };
  B.idle = (ms) => B.frames(ms);
  // Milliseconds from the last click or choice until 'selector' matches (checked every frame).
  B.waitSel = async (selector, timeout) => {
    const since = B.lastAction;
    for (;;) {
      if (document.querySelector(selector)) return performance.now() - since;
      if (performance.now() - since > timeout) throw new Error(selector + ' not shown within ' + timeout + ' ms');
      await raf();
    }
  };
  B.measure = (name, since) =>
    performance.getEntriesByName(name).filter((e) => e.startTime >= since - 0.001 && e.detail && e.detail.nodes > 0).pop() || null;
  // The flowscope:map-* measures of the first map drawn since 'since' (with this layout, if given).
  B.waitDrawn = async (since, layout, timeout) => {
    const end = performance.now() + timeout;
    for (;;) {
      const drawn = performance.getEntriesByName('flowscope:map-drawn')
        .find((e) => e.startTime >= since - 0.001 && e.detail.nodes > 0 && (!layout || e.detail.layout === layout));
      if (drawn) {
        const at = (name) => performance.getEntriesByName(name).find((e) => Math.abs(e.startTime - drawn.startTime) < 0.01 || (name === 'flowscope:map-layout' && e.startTime >= drawn.startTime && e.startTime < drawn.startTime + drawn.duration));
        const elements = at('flowscope:map-elements');
        const layoutEntry = at('flowscope:map-layout');
        return {
          start: drawn.startTime,
          end: drawn.startTime + drawn.duration,
          detail: drawn.detail,
          elementsMs: elements ? elements.duration : 0,
          layoutMs: layoutEntry ? layoutEntry.duration : 0,
          layoutEnd: layoutEntry ? layoutEntry.startTime + layoutEntry.duration : drawn.startTime,
        };
      }
      if (performance.now() > end) throw new Error('no map drawn within ' + timeout + ' ms');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  B.apis = (method, since) =>
    performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/' + method) && r.startTime >= since - 1).map((r) => r.responseEnd - r.startTime);
  B.api = (method, since) => {
    const e = performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/' + method) && r.startTime >= since - 1).pop();
    return e ? e.responseEnd - e.startTime : null;
  };
  // Zoom in towards the canvas centre and back out (to 8× the fitted zoom, capped by maxZoom) while
  // panning round a circle, one viewport change per frame.
  B.panZoom = async (ms) => {
    const cy = window.flowscopeMap;
    const z0 = cy.zoom();
    const p0 = { ...cy.pan() }; // cy.pan() is the live object
    const c = { x: cy.width() / 2, y: cy.height() / 2 };
    let renders = 0;
    const count = () => { renders++; };
    cy.on('render', count);
    const stamps = await B.frames(ms, (phase) => {
      const z = Math.min(cy.maxZoom(), z0 * Math.pow(8, Math.sin(Math.PI * phase)));
      const r = 150 * Math.sin(Math.PI * phase);
      const a = 4 * Math.PI * phase;
      cy.viewport({ zoom: z, pan: { x: c.x - (c.x - p0.x) * z / z0 + r * Math.cos(a), y: c.y - (c.y - p0.y) * z / z0 + r * Math.sin(a) } });
    });
    cy.off('render', count);
    cy.viewport({ zoom: z0, pan: p0 });
    return { stamps, renders };
  };
  // Pan round a 200 px circle at a fixed zoom (around the canvas centre), after a pause that lets the
  // map settle at that zoom (edge labels are given to the edges in view once the viewport rests).
  B.panAt = async (zoom, ms) => {
    const cy = window.flowscopeMap;
    const z0 = cy.zoom();
    const p0 = { ...cy.pan() }; // cy.pan() is the live object
    const c = { x: cy.width() / 2, y: cy.height() / 2 };
    cy.zoom({ level: zoom, renderedPosition: c });
    const p1 = { ...cy.pan() };
    await new Promise((r) => setTimeout(r, 500));
    await raf();
    let renders = 0;
    const count = () => { renders++; };
    cy.on('render', count);
    const stamps = await B.frames(ms, (phase) => {
      const a = 2 * Math.PI * phase;
      cy.pan({ x: p1.x + 200 * Math.sin(a), y: p1.y + 200 * (1 - Math.cos(a)) });
    });
    cy.off('render', count);
    const labelled = cy.edges('.labelled').length;
    cy.viewport({ zoom: z0, pan: p0 });
    return { stamps, renders, labelled };
  };
  const log = () => document.querySelector('[role="table"][aria-label="Request log"]');
  // The rows inside the scroller's visible box (under the sticky header), and whether any is still a placeholder.
  B.visibleRows = () => {
    const el = log();
    if (!el) return { rows: 0, loading: 0, first: -1 };
    const box = el.getBoundingClientRect();
    const head = el.querySelector('.log-table__head');
    const top = box.top + (head ? head.getBoundingClientRect().height : 0);
    let rows = 0, loading = 0, first = -1;
    for (const row of el.querySelectorAll('.log-table__body [role="row"]')) {
      const r = row.getBoundingClientRect();
      if (r.bottom <= top + 1 || r.top >= box.bottom - 1) continue;
      rows++;
      if (row.textContent === 'Loading…') loading++;
      const index = Number(row.getAttribute('aria-rowindex')) - 1;
      if (first < 0 || index < first) first = index;
    }
    return { rows, loading, first };
  };
  B.settled = async (timeout) => {
    const t0 = performance.now();
    for (;;) {
      const v = B.visibleRows();
      if (v.rows > 0 && v.loading === 0) return { ms: performance.now() - t0, first: v.first };
      if (performance.now() - t0 > timeout) throw new Error('request log rows still loading after ' + timeout + ' ms');
      await raf();
    }
  };
  // Scroll down 'screens' screens, 'perScreen' frames each, one step per frame.
  B.scrollLog = async (screens, perScreen) => {
    const el = log();
    const since = performance.now();
    const step = el.clientHeight / perScreen;
    let loadingFrames = 0;
    const stamps = await B.frames(screens * perScreen * 1000 / 60, () => {
      if (B.visibleRows().loading > 0) loadingFrames++;
      el.scrollTop += step;
    });
    return { stamps, loadingFrames, since, rows: Math.round(screens * el.clientHeight / 28) };
  };
  B.jump = async (fraction, timeout) => {
    const el = log();
    const t0 = performance.now();
    el.scrollTop = fraction * (el.scrollHeight - el.clientHeight);
    await raf();
    const s = await B.settled(timeout);
    return { ms: performance.now() - t0, first: s.first, apiMs: Math.max(0, ...B.apis('requestLog', t0)) };
  };
  // When the capture list first shows a capture (polled every frame from the first one).
  B.captureListAt = null;
  const watch = () => {
    if (document.querySelector('ul[aria-label="Captures"] li')) B.captureListAt = performance.now();
    else requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
  window.__uiBench = B;
})();
`;

function frameStats(stamps: number[], vsync: number): FrameStats {
  const iv = stamps.slice(1).map((t, i) => t - stamps[i]);
  const sorted = [...iv].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  const span = stamps[stamps.length - 1] - stamps[0];
  const expected = Math.max(1, Math.round(span / vsync));
  const dropped = iv.reduce((s, v) => s + Math.max(0, Math.round(v / vsync) - 1), 0);
  return { frames: iv.length, seconds: span / 1000, medianMs: q(0.5), p95Ms: q(0.95), maxMs: sorted[sorted.length - 1] ?? 0, droppedShare: dropped / expected };
}

/** Builds the renderer when out/renderer is missing or older than its sources; says which renderer is measured. */
function ensureRenderer(): string {
  const index = join(ROOT, 'out/renderer/index.html');
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((d) => (d.isDirectory() ? newest(join(dir, d.name)) : statSync(join(dir, d.name)).mtimeMs)));
  const sources = Math.max(newest(join(ROOT, 'src/renderer')), newest(join(ROOT, 'src/shared')));
  const built = () => `built ${new Date(statSync(index).mtimeMs).toISOString()}`;
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return built();
  console.error('building the renderer (npm run build:app) …');
  try {
    execFileSync('npm', ['run', 'build:app'], { cwd: ROOT, stdio: 'pipe' });
    return `${built()} for this run`;
  } catch (err) {
    if (!existsSync(index)) throw err;
    const out = `${(err as { stderr?: Buffer }).stderr ?? ''}`.trim().split('\n');
    console.error(`npm run build:app failed (${out.find((l) => /^\S*Error\b/.test(l)) ?? out[out.length - 1]}): measuring the renderer already in out/renderer`);
    return `${built()}, **older than its sources** (npm run build:app failed)`;
  }
}

async function workspaceCounts(path: string): Promise<{ requestRows: number; services: number }> {
  const db = await DuckDBInstance.create(path);
  const c = await db.connect();
  try {
    const one = async (sql: string) => Number((await c.runAndReadAll(sql)).getRows()[0][0]);
    return { requestRows: await one('SELECT count(*) FROM requests'), services: await one("SELECT count(*) FROM resources WHERE kind = 'service'") };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

export async function benchUi(workspacePath: string): Promise<UiTimings> {
  const started = performance.now();
  if (!existsSync(workspacePath)) {
    console.error(`generating ${workspacePath} …`);
    await generateWorkspace({ path: workspacePath });
  }
  const renderer = ensureRenderer();
  const counts = await workspaceCounts(workspacePath);
  const load = loadavg()[0];
  const served = await startServe(['--db', workspacePath]);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: VIEWPORT });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript({ content: IN_PAGE });
    const inPage = <T>(js: string): Promise<T> => page.evaluate(js) as Promise<T>;

    // --- The page ------------------------------------------------------------------------------
    await page.goto(served.url);
    const captures = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
    await captures.first().waitFor({ timeout: WAIT_MS });
    const paint = await inPage<{ fp: number | null; fcp: number | null; list: number }>(`(() => {
      const p = (n) => { const e = performance.getEntriesByName(n)[0]; return e ? e.startTime : null; };
      return { fp: p('first-paint'), fcp: p('first-contentful-paint'), list: __uiBench.captureListAt };
    })()`);
    const idle = await inPage<number[]>('__uiBench.idle(1000)');
    const vsync = Math.max(1000 / 60, frameStats(idle, 1000 / 60).medianMs);

    // --- The service map, by service (the first map of a freshly opened workspace) ----------------
    const maps: MapDraw[] = [];
    // The first map drawn after the last click or choice (or after 'after'), timed from that action.
    const drawn = async (what: string, layout: string, api: boolean, after?: number): Promise<MapDraw & { start: number; since: number }> => {
      const since = await inPage<number>('__uiBench.lastAction');
      const d = await inPage<{ start: number; end: number; detail: { nodes: number; edges: number }; elementsMs: number; layoutMs: number; layoutEnd: number }>(
        `__uiBench.waitDrawn(${after ?? since}, ${JSON.stringify(layout)}, ${WAIT_MS})`,
      );
      const apiMs = api ? await inPage<number | null>(`__uiBench.api('serviceMap', ${since})`) : null;
      const m: MapDraw = { what, nodes: d.detail.nodes, edges: d.detail.edges, totalMs: d.end - since, apiMs, elementsMs: d.elementsMs, layoutMs: d.layoutMs, drawMs: d.end - d.layoutEnd };
      maps.push(m);
      console.error(`  ${what}: ${m.nodes} nodes, ${m.edges} edges, ${m.totalMs.toFixed(0)} ms (layout ${m.layoutMs.toFixed(0)} ms)`);
      return { ...m, start: d.start, since };
    };
    await page.getByRole('tab', { name: 'Service map' }).click();
    await drawn('services, layered: first map after opening the workspace (cold)', 'layered', true);

    // Every layout the toolbar offers, on the same map.
    const layoutSelect = page.getByRole('combobox', { name: 'Layout' });
    const switches: [string, string][] = [['breadthfirst', 'breadth-first'], ['concentric', 'concentric'], ['cose', 'force (cose)'], ['layered', 'layered']];
    // …and the default layered layout twice more, for a median of three.
    switches.push(['concentric', 'concentric'], ['layered', 'layered'], ['breadthfirst', 'breadth-first'], ['layered', 'layered']);
    for (const [value, label] of switches) {
      await layoutSelect.selectOption(value);
      await drawn(`services, switch to ${label}`, value, false);
    }
    const panZoom: UiTimings['panZoom'] = [];
    // Twice: the first pan and zoom also fills cytoscape's caches of element and label textures.
    const pz = async (what: string) => {
      await page.waitForTimeout(300);
      for (const pass of ['first', 'again']) {
        const r = await inPage<{ stamps: number[]; renders: number }>('__uiBench.panZoom(2000)');
        panZoom.push({ what: `${what}: zoom in and out, ${pass}`, frames: frameStats(r.stamps, vsync), renders: r.renders });
      }
      for (const pass of ['first', 'again']) {
        const r = await inPage<{ stamps: number[]; renders: number; labelled: number }>('__uiBench.panAt(1, 2000)');
        panZoom.push({ what: `${what}: pan at zoom 1 (${r.labelled} edge labels), ${pass}`, frames: frameStats(r.stamps, vsync), renders: r.renders });
      }
    };
    await pz('services');

    // --- By pod, then back to services (warm) ------------------------------------------------------
    const grouping = page.getByRole('combobox', { name: 'Group nodes by' });
    await grouping.selectOption('pod');
    await drawn('pods, layered', 'layered', true);
    await pz('pods');
    await grouping.selectOption('service');
    await drawn('services again (warm query)', 'layered', true);

    // --- RED -----------------------------------------------------------------------------------
    await page.getByRole('tab', { name: 'RED' }).click();
    const redSince = await inPage<number>('__uiBench.lastAction');
    const redMs = await inPage<number>(`__uiBench.waitSel('table[aria-label="RED by service"] tbody tr', ${WAIT_MS})`);
    const red = {
      ms: redMs,
      apiMs: await inPage<number | null>(`__uiBench.api('red', ${redSince})`),
      rows: await page.getByRole('table', { name: 'RED by service' }).locator('tbody tr').count(),
    };

    // --- Back to the map tab: the map kept from before is drawn at once, then again when the
    // refetched answer arrives. --------------------------------------------------------------------
    await page.getByRole('tab', { name: 'Service map' }).click();
    const back = await drawn('Service map tab again (the map kept from before)', 'layered', false);
    const refetch = await inPage<UiTimings['mapReturn']>(`(async () => {
      const B = __uiBench, since = ${back.since};
      const entry = () => performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/serviceMap') && r.startTime >= since - 1).pop();
      for (const t0 = performance.now(); !entry() && performance.now() - t0 < ${WAIT_MS}; ) await new Promise((r) => setTimeout(r, 10));
      const e = entry();
      // Time for React to commit the answer and for cytoscape to draw it, if it is going to.
      await new Promise((r) => setTimeout(r, 500));
      await B.raf();
      await B.raf();
      const d = performance.getEntriesByName('flowscope:map-drawn').find((m) => m.startTime > ${back.start} + 1 && m.detail.nodes > 0);
      return { apiMs: e ? e.responseEnd - e.startTime : null, arrivedMs: e ? e.responseEnd - since : null, redrawnMs: d ? d.startTime + d.duration - since : null };
    })()`);

    // --- The request log -------------------------------------------------------------------------
    await page.getByRole('tab', { name: 'Requests' }).click();
    const first = await inPage<{ ms: number }>(
      `(async () => { const since = __uiBench.lastAction; await __uiBench.settled(${WAIT_MS}); return { ms: performance.now() - since }; })()`,
    );
    const total = Number(await page.getByRole('table', { name: 'Request log' }).getAttribute('aria-rowcount')) - 1;
    const screens = 20;
    const scroll = await inPage<{ stamps: number[]; loadingFrames: number; since: number; rows: number }>(`__uiBench.scrollLog(${screens}, 6)`);
    const settle = await inPage<{ ms: number }>(`__uiBench.settled(${WAIT_MS})`);
    const pageMs = await inPage<number[]>(`__uiBench.apis('requestLog', ${scroll.since})`);
    const jumps: LogJump[] = [];
    for (const [to, fraction] of [['middle', 0.5], ['end', 1], ['first quarter', 0.25]] as const) {
      const j = await inPage<{ ms: number; first: number; apiMs: number }>(`__uiBench.jump(${fraction}, ${WAIT_MS})`);
      jumps.push({ to, ms: j.ms, firstRow: j.first + 1, apiMs: j.apiMs });
    }
    if (errors.length > 0) console.error(`page errors: ${errors.join('; ')}`);
    return {
      workspace: { path: workspacePath, ...counts, renderer },
      load,
      idle: frameStats(idle, vsync),
      page: { firstPaintMs: paint.fp, firstContentfulPaintMs: paint.fcp, captureListMs: paint.list },
      maps,
      panZoom,
      mapReturn: refetch,
      red,
      log: {
        total,
        firstRowsMs: first.ms,
        screens,
        rowsScrolled: scroll.rows,
        scroll: frameStats(scroll.stamps, vsync),
        loadingFrames: scroll.loadingFrames,
        settleMs: settle.ms,
        pageFetchMs: pageMs.sort((a, b) => a - b),
        jumps,
      },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await browser.close();
    await served.stop();
  }
}

export function uiMarkdown(t: UiTimings): string {
  const fmt = (n: number | null | undefined, d = 0) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
  const pct = (x: number) => `${fmt(x * 100, 1)} %`;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const frames = (f: FrameStats) => `${fmt(f.medianMs, 1)} | ${fmt(f.p95Ms, 1)} | ${fmt(f.maxMs)} | ${pct(f.droppedShare)} | ${fmt(f.frames)} in ${fmt(f.seconds, 1)} s`;
  const relayouts = t.maps.filter((m) => m.what === 'services, switch to layered');
  const cold = t.maps[0];
  const warm = t.maps.find((m) => m.what.startsWith('services again'));
  const pods = t.maps.find((m) => m.what.startsWith('pods'));
  const clientMs = (m: MapDraw) => m.elementsMs + m.layoutMs + m.drawMs;
  const verdict = (ms: number) => (ms < 2000 ? 'within' : '**over**');
  const relayoutMs = relayouts.length > 0 ? median(relayouts.map((m) => m.totalMs)) : NaN;
  const fetches = t.log.pageFetchMs;
  return `## UI (issue #4): the page on the same large workspace

\`flowscope serve --db\` on that workspace (${fmt(t.workspace.requestRows)} request rows, ${fmt(t.workspace.services)} services), driven by
bench/ui.ts in Debian's Chromium (headless, ${VIEWPORT.width}×${VIEWPORT.height}) through Playwright. **No GPU on this machine**: Chromium runs
with \`--disable-gpu\` and rasterises in software on ${cpus().length} shared cores, so frame times are upper bounds for a desktop.
Times are taken inside the page: from the click or choice reaching the page to the first frame painted with the result
(the renderer's flowscope:map-* performance measures, requestAnimationFrame timestamps, resource timing of the API calls).
Renderer ${t.workspace.renderer}; load average ${t.load.toFixed(2)} at the start.

Page load: first contentful paint ${fmt(t.page.firstContentfulPaintMs)} ms after navigation; the capture list (the workspace's capture) ${fmt(t.page.captureListMs)} ms.

### Service map: click or choice → map drawn

Target: a map of 300 nodes lays out in under 2 s (Kiali needs ~6 s for 100 elements).

| step | nodes | edges | total ms | API ms | elements ms | layout ms | first frame ms |
|---|---:|---:|---:|---:|---:|---:|---:|
${t.maps.map((m) => `| ${m.what} | ${fmt(m.nodes)} | ${fmt(m.edges)} | ${fmt(m.totalMs)} | ${fmt(m.apiMs)} | ${fmt(m.elementsMs)} | ${fmt(m.layoutMs)} | ${fmt(m.drawMs)} |`).join('\n')}

"API ms" is the serviceMap call inside the total (query + JSON over HTTP, as the page saw it; the engine runs view queries one
at a time, so on the first map it also waits for the time chart's query and the capture summary); "elements" is cytoscape replacing
the elements, "layout" computing and applying the positions, "first frame" from there to cytoscape's first draw (edge geometry and
label sizes are computed then). Query latency alone, in process: the Views section above.

- Layout alone, ${fmt(cold?.nodes)} nodes and ${fmt(cold?.edges)} edges, layered (the default): choice → drawn ${fmt(relayoutMs)} ms (median of ${relayouts.length}) — ${verdict(relayoutMs)} the 2 s target.
- The same map with its query: ${warm ? `${fmt(warm.totalMs)} ms warm (${fmt(clientMs(warm))} ms of it in the page) — ${verdict(warm.totalMs)} 2 s; ` : ''}${cold ? `${fmt(cold.totalMs)} ms for the first map after opening the workspace, whose query also builds the per-request sets every view shares (${fmt(cold.apiMs)} ms) — ${verdict(cold.totalMs)} 2 s.` : ''}
- Back on the Service map tab, the map kept from before is drawn at once; its refetch (${fmt(t.mapReturn.apiMs)} ms) arrived
  ${fmt(t.mapReturn.arrivedMs)} ms after the click and ${t.mapReturn.redrawnMs === null ? 'was the same map, so nothing was laid out or drawn again' : `**drew and laid out the map again** (done ${fmt(t.mapReturn.redrawnMs)} ms after the click)`}.
${pods ? `- By pod: ${fmt(pods.nodes)} nodes, ${fmt(pods.edges)} edges in ${fmt(pods.totalMs)} ms (${fmt(clientMs(pods))} ms in the page).\n` : ''}
### Frame times (a 60 Hz display shows a frame every 16.7 ms)

| what | median ms | p95 ms | worst ms | dropped frames | frames |
|---|---:|---:|---:|---:|---:|
| idle page (baseline) | ${frames(t.idle)} |
${t.panZoom.map((p) => `| map, ${p.what}; ${fmt(p.renders)} cytoscape draws | ${frames(p.frames)} |`).join('\n')}
| request log: ${t.log.screens} screens (~${fmt(t.log.rowsScrolled)} rows) in 2 s | ${frames(t.log.scroll)} |

Zoom in and out: one viewport change per animation frame for 2 s, zooming into the canvas centre up to 8× the fitted view
(capped at cytoscape's maxZoom 3) and back out while circling 150 px. Pan at zoom 1: half a second at rest there first (the edges
in view get their labels), then a 200 px circle in 2 s. The first pass at a zoom level also fills cytoscape's caches of element and
label textures for it; "again" is the same gesture with them filled. Dropped frames: frames a 60 Hz display would have
shown that the page did not produce, over all of them.

### RED and the request log

- RED by service: click → table drawn in ${fmt(t.red.ms)} ms (${fmt(t.red.rows)} rows with sparklines; the red call ${fmt(t.red.apiMs)} ms of it).
- Request log, ${fmt(t.log.total)} requests (virtualized; pages of 200 rows fetched as they scroll into view): click → first rows ${fmt(t.log.firstRowsMs)} ms.
- Scrolling ${t.log.screens} screens at a sixth of a screen per frame: ${fmt(t.log.loadingFrames)} of ${fmt(t.log.scroll.frames)} frames showed a "Loading…" row;
  every row had content ${fmt(t.log.settleMs)} ms after the scroll stopped. ${fetches.length} page fetch${fetches.length === 1 ? '' : 'es'}${fetches.length > 0 ? `, ${fmt(median(fetches))} ms median, ${fmt(fetches[fetches.length - 1])} ms worst` : ''}.
${t.log.jumps.map((j) => `- Jump to the ${j.to} (first row shown ${fmt(j.firstRow)}): real rows after ${fmt(j.ms)} ms (its slowest page fetch ${fmt(j.apiMs)} ms).`).join('\n')}

Whole UI run: ${fmt(t.seconds)} s.
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = process.argv[2] ?? join(import.meta.dirname, 'data', 'workspace-ui.duckdb');
  process.stdout.write(uiMarkdown(await benchUi(path)));
}
