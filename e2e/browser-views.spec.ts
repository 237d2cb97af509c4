// The views, driven like a person in Debian's Chromium against the real `flowscope serve`: open the
// k8s sample (both nodes), wait for the import, then check what the service map, its side panel, the
// request log, the time brush and the theme show against samples/k8s.truth.json — numbers the
// generator's clients recorded, never derived from the capture. A screenshot of every view is saved
// (and attached) for a person to look at.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTruth, type TruthRequest } from '../samples/truth';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { startServe, type Served } from './serve-process';

const ROOT = join(import.meta.dirname, '..');
const BOTH = join(ROOT, 'samples/k8s-both.pcapng');

const truth = loadTruth();

/** What a map node stands for in the truth: a pod name, from its name, pod IP or ClusterIP. */
function podOf(node: string): string | null {
  for (const pod of truth.topology.pods) if (pod.name === node || pod.ip === node) return pod.name;
  for (const svc of truth.topology.services) if (svc.name === node || svc.ip === node) return svc.pod;
  return null;
}

interface UiEdge {
  source: string;
  target: string;
  protocol: string;
  port: number;
}

/** The edges the map drew (cytoscape elements, as the e2e handle exposes them). */
async function drawnEdges(page: Page): Promise<(UiEdge & { id: string; label: string })[]> {
  return page.evaluate(() => {
    const cy = window.flowscopeMap;
    if (!cy) return [];
    return cy.edges().map((e) => ({ id: e.id(), source: e.source().id(), target: e.target().id(), label: String(e.data('label')), protocol: '', port: 0 }));
  });
}

async function shot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  // Views keep their previous answer, dimmed, while the next one loads: wait for the current one.
  await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/** The value of a term in a definition list inside `scope` (side panels use <dl>). */
function fact(scope: ReturnType<Page['getByTestId']>, term: string) {
  return scope.locator('dt', { hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]');
}

let served: Served;

test.beforeAll(async () => {
  served = await startServe([]);
});

test.afterAll(async () => {
  await served?.stop();
});

test('views of the k8s sample match the truth: map edges and their RED, the error requests, the brushed window, the theme', async ({ page }, testInfo) => {
  test.setTimeout(240_000); // one person's whole session; ~70 s on an idle 2-core machine
  await page.setViewportSize({ width: 1440, height: 900 });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(err.message));

  // A CSP violation names its source, so a failure says which code injected what.
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP ${e.violatedDirective} blocked at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`),
    ),
  );
  await page.goto(served.url);
  await expect(page.getByText('Open a capture: File → Open')).toBeVisible();

  // Open the sample the way the existing e2e does (a browser cannot hand over paths) and watch the
  // page hear of it, import it and summarise it.
  await served.call('openCapture', { paths: [BOTH] });
  const capture = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
  await expect(capture).toHaveCount(1);
  await expect(capture.locator('.capture__name')).toHaveText('k8s-both.pcapng');
  await expect(capture.getByRole('term').first()).toHaveText('Packets'); // the summary: the import is done
  await shot(page, testInfo, '01-captures');

  // --- Service map -------------------------------------------------------------------------
  await page.getByRole('tab', { name: 'Service map' }).click();
  const mapPanel = page.getByRole('complementary', { name: 'Map elements' });
  await expect(mapPanel).toBeVisible();
  await expect(page.getByTestId('time-chart')).toBeVisible();

  // The map, as the API answers it, with node names from tags or IPs.
  const map = (await served.call('serviceMap', {})) as {
    nodes: { id: string; label: string }[];
    edges: { id: string; source: string; target: string; protocol: string; serverPort: number; red: { requests: number; clientErrors: number; serverErrors: number }; connectionFailures: number }[];
  };
  const drawn = await drawnEdges(page);
  expect(drawn.map((e) => e.id).sort()).toEqual(map.edges.map((e) => e.id).sort());
  const drawnNodes = await page.evaluate(() => window.flowscopeMap?.nodes().map((n) => n.id()) ?? []);
  expect(drawnNodes.sort()).toEqual(map.nodes.map((n) => n.id).sort());

  // Every pod that talked in the truth is a node (by name, pod IP or ClusterIP).
  const podsSeen = new Set(map.nodes.map((n) => podOf(n.id) ?? podOf(n.label)));
  const talkers = new Set(truth.expected.per_edge.flatMap((e) => [e.client, e.server]));
  for (const pod of talkers) expect(podsSeen, `pod ${pod} on the map`).toContain(pod);

  // Edges with requests: the protocols the engine decodes today (at least HTTP and DNS) must each
  // have exactly the truth's client→server edges, and each edge the truth's RED numbers.
  const parsed = new Set(map.edges.filter((e) => e.red.requests > 0).map((e) => e.protocol));
  expect([...parsed]).toEqual(expect.arrayContaining(['http', 'dns']));
  const expectedEdges = truth.expected.per_edge.filter((e) => e.requests > 0 && parsed.has(e.protocol));
  const key = (client: string | null, server: string | null, protocol: string, port: number) => `${client}→${server} ${protocol}:${port}`;
  const uiRequestEdges = map.edges.filter((e) => e.red.requests > 0 && parsed.has(e.protocol));
  expect(uiRequestEdges.map((e) => key(podOf(e.source), podOf(e.target), e.protocol, e.serverPort)).sort()).toEqual(
    expectedEdges.map((e) => key(e.client, e.server, e.protocol, e.port)).sort(),
  );
  await shot(page, testInfo, '02-service-map');

  // Each edge's side panel (opened from the element list, as a keyboard user would) shows the truth.
  const details = page.getByTestId('map-details');
  for (const want of expectedEdges) {
    const edge = uiRequestEdges.find((e) => podOf(e.source) === want.client && podOf(e.target) === want.server && e.protocol === want.protocol && e.serverPort === want.port);
    expect(edge, key(want.client, want.server, want.protocol, want.port)).toBeDefined();
    const label = (id: string) => map.nodes.find((n) => n.id === id)?.label ?? id;
    await mapPanel.getByRole("button", { name: `${label(edge!.source)} → ${label(edge!.target)} ${want.protocol}:${want.port}`, exact: true }).click();
    await expect(details).toBeVisible();
    await expect(fact(details, 'Requests')).toHaveText(String(want.requests));
    await expect(fact(details, 'Client errors')).toHaveText(String(want.client_errors));
    await expect(fact(details, 'Server errors')).toHaveText(String(want.server_errors));
    await page.keyboard.press('Escape');
    await expect(details).toBeHidden();
  }

  // Refused connections (the truth's protocol "tcp" edges) show as connection failures on their edge.
  for (const want of truth.expected.per_edge.filter((e) => e.refused > 0)) {
    const edge = map.edges.find((e) => podOf(e.source) === want.client && podOf(e.target) === want.server && e.serverPort === want.port);
    expect(edge, `refused ${key(want.client, want.server, want.protocol, want.port)}`).toBeDefined();
    expect(edge!.connectionFailures).toBe(want.refused);
  }

  // Find, isolate and show all again: isolating a node leaves it and its neighbours.
  await page.getByLabel('Find node').fill(map.nodes[0].label);
  expect(await page.evaluate(() => window.flowscopeMap?.nodes('.match').length)).toBeGreaterThan(0);
  await page.getByLabel('Find node').fill('');
  const frontend = map.nodes.find((n) => podOf(n.id) === 'frontend')!;
  const nodeAt = await page.evaluate((id) => {
    const cy = window.flowscopeMap!;
    const box = cy.container()!.getBoundingClientRect();
    const p = cy.getElementById(id).renderedPosition();
    return { x: box.left + p.x, y: box.top + p.y };
  }, frontend.id);
  await page.mouse.click(nodeAt.x, nodeAt.y);
  await expect(details.getByRole('heading', { name: frontend.label })).toBeVisible();
  await expect(details).toBeVisible();
  await page.getByRole('button', { name: 'Isolate' }).click();
  const neighbours = new Set(map.edges.filter((e) => e.source === frontend.id || e.target === frontend.id).flatMap((e) => [e.source, e.target]));
  await expect.poll(() => page.evaluate(() => window.flowscopeMap?.nodes(':visible').map((n) => n.id()).sort())).toEqual([...neighbours].sort());
  await shot(page, testInfo, '02b-service-map-isolated');
  await page.getByRole('button', { name: 'Show all' }).click();
  await expect.poll(() => page.evaluate(() => window.flowscopeMap?.nodes(':visible').length)).toBe(map.nodes.length);
  await page.keyboard.press('Escape');

  // Click the busiest edge on the canvas itself: client → frontend, HTTP on port 80.
  const busiest = expectedEdges.find((e) => e.client === 'client' && e.server === 'frontend' && e.port === 80)!;
  const target = uiRequestEdges.find((e) => podOf(e.source) === 'client' && podOf(e.target) === 'frontend' && e.serverPort === 80)!;
  const midpoint = () =>
    page.evaluate((id) => {
      const cy = window.flowscopeMap!;
      const edge = cy.getElementById(id);
      const box = cy.container()!.getBoundingClientRect();
      // The middle of the drawn curve (parallel edges bend apart), where its label sits.
      const mid = edge.renderedMidpoint();
      return { x: Math.round(box.left + mid.x), y: Math.round(box.top + mid.y) };
    }, target.id);
  // "Show all" reframes the map with an animation: click once the edge has stopped moving.
  let point = await midpoint();
  await expect
    .poll(async () => {
      const before = point;
      point = await midpoint();
      return before.x === point.x && before.y === point.y;
    }, { intervals: [250] })
    .toBe(true);
  await page.mouse.click(point.x, point.y);
  await expect(details).toBeVisible();
  await expect(fact(details, 'Requests')).toHaveText(String(busiest.requests));
  await expect(fact(details, 'Client errors')).toHaveText(String(busiest.client_errors));
  await expect(fact(details, 'Server errors')).toHaveText(String(busiest.server_errors));
  await expect(fact(details, 'Error ratio')).toHaveText(`${Number((((busiest.client_errors + busiest.server_errors) / busiest.requests) * 100).toFixed(2))} %`);
  await shot(page, testInfo, '03-service-map-edge');

  // "Show these requests" opens the request log filtered to that edge: the truth's requests on it.
  await details.getByRole('button', { name: 'Show these requests' }).click();
  await expect(page.getByRole('tab', { name: 'Requests' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('requests-total')).toHaveText(`${busiest.requests} requests`);
  await page.getByRole('button', { name: 'Clear filters' }).click();

  // --- Request log: filter to errors with the filter bar ------------------------------------
  const failing = truth.requests.filter((r) => r.error_class !== 'ok' && parsed.has(r.protocol));
  const allParsed = truth.requests.filter((r) => parsed.has(r.protocol));
  await expect(page.getByTestId('requests-total')).toHaveText(`${allParsed.length} requests`);
  await page.getByLabel('Filter field').selectOption({ label: 'Status' });
  await page.getByLabel('Filter operator').selectOption('in');
  await page.getByLabel('Filter value').fill('client_error, server_error, timeout');
  await page.getByRole('button', { name: 'Add filter' }).click();
  await expect(page.getByRole('list', { name: 'Active filters' }).getByRole('listitem')).toHaveText(['Status in client_error, server_error, timeout×']);
  await expect(page.getByTestId('requests-total')).toHaveText(`${failing.length} requests`);

  const log = page.getByRole('table', { name: 'Request log' });
  const headers = await log.getByRole('columnheader').allInnerTexts();
  const col = (name: string) => headers.findIndex((h) => h.replace(/[▲▼]/g, '').trim() === name);
  const rows = log.locator('.log-table__body [role="row"]');
  await expect(rows).toHaveCount(failing.length);
  const seen = (await rows.evaluateAll((els) => els.map((el) => Array.from(el.querySelectorAll('[role="cell"]')).map((c) => (c as HTMLElement).innerText))))
    .map((cells) => `${cells[col('Protocol')]} ${cells[col('Method')]} ${cells[col('Resource')]} ${cells[col('Status')]}`)
    .sort();
  // The truth writes PostgreSQL's message type ('Q'); rows use DeepFlow's name for it.
  const shown = (r: TruthRequest) => (r.protocol === 'postgresql' && r.method === 'Q' ? 'simple query' : r.method);
  expect(seen).toEqual(failing.map((r) => `${r.protocol} ${shown(r)} ${r.resource} ${r.error_class}`).sort());
  await shot(page, testInfo, '04-requests-errors');

  // Export the visible table: a CSV download with the visible columns and exactly these rows.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  expect(download.suggestedFilename()).toBe('flowscope-requests.csv');
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  expect(csv[0].split(',')).toEqual(headers.map((h) => h.replace(/[▲▼]/g, '').trim()));
  expect(csv.length - 1).toBe(failing.length);

  // A row's details, opened from the keyboard: every field, with the trace and TCP groups.
  await log.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  const rowDetails = page.getByTestId('requests-details');
  await expect(rowDetails).toBeVisible();
  await expect(rowDetails.getByRole('heading', { name: 'Timings' })).toBeVisible();
  await expect(rowDetails.getByRole('heading', { name: 'TCP' })).toBeVisible();
  await expect(rowDetails.getByRole('heading', { name: 'Trace' })).toBeVisible();
  // Another row clicked while the details are open takes them over: the first HTTP row of the table shows
  // the x-request-id its client sent and the client port it used, as the truth recorded them.
  const table = await rows.evaluateAll((els) => els.map((el) => Array.from(el.querySelectorAll('[role="cell"]')).map((c) => (c as HTMLElement).innerText)));
  const firstHttp = table.findIndex((cells) => cells[col('Protocol')] === 'http');
  expect(firstHttp).toBeGreaterThanOrEqual(0);
  await rows.nth(firstHttp).click();
  const [method, resource] = [table[firstHttp][col('Method')], table[firstHttp][col('Resource')]];
  await expect(rowDetails.getByRole('heading', { level: 2 })).toHaveText(`HTTP ${method} ${resource}`);
  const xRequestId = (await fact(rowDetails, 'xRequestId0').innerText()).trim();
  const want = failing.find((r) => r.protocol === 'http' && r.method === method && r.resource === resource && (r.x_request_id ?? '—') === xRequestId);
  expect(want, `a failing ${method} ${resource} with x-request-id ${xRequestId} in the truth`).toBeDefined();
  const conn = truth.connections.find((c) => c.id === want!.connection)!;
  await expect(fact(rowDetails, 'clientPort')).toHaveText(String(conn.client_port));
  await expect(fact(rowDetails, 'responseCode')).toHaveText(String(want!.status));
  // Its network path: one line per interface the truth says the connection crossed (names as the
  // capture's interfaces have them), the request's own row marked.
  const pathTable = rowDetails.getByRole('region', { name: 'Network path' });
  await expect(pathTable.getByRole('heading')).toHaveText(`Network path · ${conn.hops.length} hops`);
  const hopRows = pathTable.locator('tbody tr');
  await expect(hopRows).toHaveCount(conn.hops.length);
  const interfaces = (await pathTable.locator('.path-table__if').allInnerTexts()).sort();
  expect(interfaces).toEqual(conn.hops.map((h) => h.interface).sort());
  await expect(pathTable.locator('.path-table__chosen')).toHaveCount(1);
  await shot(page, testInfo, '05-requests-details');
  await page.keyboard.press('Escape');
  await expect(rowDetails).toBeHidden();

  // --- Flows -------------------------------------------------------------------------------
  await page.getByRole('tab', { name: 'Flows' }).click();
  const flowTotal = ((await served.call('flowLog', { limit: 1 })) as { total: number }).total;
  await expect(page.getByTestId('flows-total')).toHaveText(`${flowTotal} flows`);
  expect(flowTotal).toBe(truth.expected.per_edge.reduce((s, e) => s + e.connections, 0));
  await shot(page, testInfo, '06-flows');

  // --- Network -------------------------------------------------------------------------------
  await page.getByRole('tab', { name: 'Network' }).click();
  await expect(page.getByRole('table', { name: 'Network by service' })).toBeVisible();
  await expect(page.getByTestId('network-count')).toContainText(`${flowTotal} flows`);
  await shot(page, testInfo, '07-network');

  // --- RED, and the brush: the table follows the window ------------------------------------
  await page.getByRole('tab', { name: 'RED' }).click();
  const redCount = page.getByTestId('red-count');
  await expect(redCount).toContainText(`${allParsed.length} requests`);
  await page.getByRole('tab', { name: 'Edges' }).click();
  await expect(page.getByRole('table', { name: 'RED by edge' }).locator('tbody tr')).toHaveCount(expectedEdges.length);
  await shot(page, testInfo, '08-red-edges');
  // Endpoints: every decoded request falls in exactly one endpoint row.
  await page.getByRole('tab', { name: 'Endpoints' }).click();
  await expect(page.getByRole('table', { name: 'RED by endpoint' })).toBeVisible();
  await expect(redCount).toContainText(`${allParsed.length} requests`);
  await shot(page, testInfo, '08b-red-endpoints');
  await page.getByRole('tab', { name: 'Services' }).click();

  const chart = page.getByTestId('time-chart');
  const box = (await chart.boundingBox())!;
  // The plot spans the chart minus its 48 px / 56 px margins; brush its first ~40 %.
  const left = box.x + 48;
  const plotWidth = box.width - 48 - 56;
  await page.mouse.move(left + plotWidth * 0.02, box.y + 80);
  await page.mouse.down();
  await page.mouse.move(left + plotWidth * 0.2, box.y + 80, { steps: 5 });
  await page.mouse.move(left + plotWidth * 0.4, box.y + 80, { steps: 5 });
  await page.mouse.up();
  const windowLabel = page.getByTestId('time-window');
  await expect(windowLabel).toContainText('Window ');
  const from = Number(await windowLabel.getAttribute('data-from'));
  const to = Number(await windowLabel.getAttribute('data-to'));
  expect(to).toBeGreaterThan(from);
  // Requests the clients started in the window; timestamps of the clients' clocks and the capture
  // differ by far less than 20 ms, so only requests that close to an edge could fall either way.
  const within = (slack: number) => allParsed.filter((r) => r.start_us >= from - slack && r.start_us < to + slack).length;
  await expect
    .poll(async () => Number(/([\d,]+) requests/.exec((await redCount.textContent()) ?? '')?.[1].replace(/,/g, '')))
    .toBeLessThan(allParsed.length);
  const inWindow = Number(/([\d,]+) requests/.exec((await redCount.textContent()) ?? '')?.[1].replace(/,/g, ''));
  expect(inWindow).toBeGreaterThanOrEqual(within(-20_000));
  expect(inWindow).toBeLessThanOrEqual(within(20_000));
  expect(inWindow).toBeGreaterThan(0);
  await shot(page, testInfo, '09-red-brushed');

  // The request log follows the same window.
  await page.getByRole('tab', { name: 'Requests' }).click();
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(page.getByTestId('requests-total')).toHaveText(`${inWindow} requests`);
  await page.getByRole('button', { name: 'Reset window' }).click();
  await expect(windowLabel).toHaveText('Window: all time');
  await expect(page.getByTestId('requests-total')).toHaveText(`${allParsed.length} requests`);

  // --- Theme -------------------------------------------------------------------------------
  await page.getByRole('tab', { name: 'Service map' }).click();
  const toggle = page.getByRole('button', { name: /^Theme: / });
  while ((await toggle.textContent()) !== 'Theme: dark') await toggle.click();
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(21, 23, 28)');
  await expect(mapPanel).toBeVisible();
  await shot(page, testInfo, '10-service-map-dark');
  await page.getByRole('tab', { name: 'RED' }).click();
  await expect(redCount).toContainText(`${allParsed.length} requests`); // the reset window holds here too
  await shot(page, testInfo, '11-red-dark');

  // Keyboard: the view tabs move with the arrow keys.
  await page.getByRole('tab', { name: 'RED' }).focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('tab', { name: 'Network' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('tab', { name: 'Network' })).toBeFocused();

  expect(problems).toEqual([]);
});
