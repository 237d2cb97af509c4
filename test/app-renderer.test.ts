// The renderer shell rendered to HTML (react-dom/server) and its state rules: what the user sees
// with no capture, with captures importing, and with a summary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { CaptureSummary, ImportProgress } from '../src/shared/api';
import type { CaptureRecord } from '../src/shared/records';
import { App } from '../src/renderer/src/App';
import type { AppApi } from '../src/renderer/src/api';
import { CaptureList } from '../src/renderer/src/components/CaptureList';
import {
  capturesNeedingSummary,
  capturesReducer,
  initialCapturesState,
  metadataNotice,
  needsRefresh,
  summaryFigures,
} from '../src/renderer/src/captures-state';
import { fileName, formatBytes, formatDuration, percent } from '../src/renderer/src/format';
import { openDroppedFiles } from '../src/renderer/src/open-files';
import { nextThemeMode } from '../src/renderer/src/theme';

const EMPTY_TEXT = 'Open a capture: File → Open, or drop a pcap/pcapng file here';

function record(captureId: number, source: string, extra: Partial<CaptureRecord> = {}): CaptureRecord {
  return {
    captureId, source, kind: 'pcap', startedAt: null, endedAt: null, packets: 0, bytes: 0,
    fileBytes: 355404, malformedPackets: 0, nonIpPackets: 0, error: null, ...extra,
  };
}

const timing = { count: 0, avg: null, max: null };
const percentiles = { count: 0, p50: null, p90: null, p99: null, max: null };

/** A summary as the store returns it (src/shared/summary.ts), with the headline fields set. */
function summaryOf(fields: Partial<CaptureSummary> & { retransRatio?: number | null }): CaptureSummary {
  const { retransRatio = null, ...rest } = fields;
  return {
    captureIds: [1], captures: [], packets: 0, bytes: 0, malformedPackets: 0, nonIpPackets: 0,
    firstTime: null, lastTime: null, durationUs: null, flowRows: 0, connections: 0, protocols: [],
    topConversations: [], interfaces: [], observationPoints: [],
    tcp: {
      flowRows: 0, connections: 0, handshakesSeen: 0, connectionFailures: { total: 0, byType: [] },
      resets: { total: 0, byType: [] }, timeouts: 0, closeTypes: [], packets: 0, retransTx: 0, retransRx: 0,
      retransRatio, zeroWinTx: 0, zeroWinRx: 0, oooTx: 0, oooRx: 0, rtt: percentiles, srt: timing, art: timing,
    },
    ...rest,
  };
}

const reading: ImportProgress = {
  importId: 'import-2', captureId: 2, path: '/data/b.pcapng', phase: 'reading', bytesRead: 250, totalBytes: 1000, packets: 40, flows: 3,
};

test('with no API and no capture, the shell shows the title, the empty state and that it is not connected', () => {
  const html = renderToStaticMarkup(createElement(App, { api: null }));
  assert.match(html, /<h1 class="title-bar__name">Flowscope<\/h1>/);
  assert.ok(html.includes(EMPTY_TEXT), html);
  assert.match(html, /Not connected to a Flowscope engine/);
  assert.match(html, /Theme: system/);
  assert.match(html, /data-testid="drop-zone"/);
});

test('the capture list shows names, kinds, sizes, import progress with cancel, and summary numbers', () => {
  const html = renderToStaticMarkup(
    createElement(CaptureList, {
      records: [
        record(1, '/data/a.pcap'),
        record(2, '/data/b.pcapng', { kind: 'pcapng', fileBytes: 1000 }),
        record(3, 'C:\\caps\\c.pcap.gz', { kind: 'pcap+gzip', error: 'C:\\caps\\c.pcap.gz: read failed at offset 4096: EIO' }),
      ],
      progress: { 2: reading },
      summaries: {
        1: {
          state: 'ready',
          summary: summaryOf({ packets: 12345, bytes: 9_876_543, connections: 17, flowRows: 34, durationUs: 2_500_000, retransRatio: 0.0123 }),
        },
        3: { state: 'unavailable', reason: 'Capture summaries need the engine' },
      },
      onCancel: () => {},
    }),
  );
  assert.match(html, /<span class="capture__name" title="\/data\/a.pcap">a.pcap<\/span>/);
  assert.match(html, /<span class="capture__kind">pcapng<\/span>/);
  assert.match(html, /347 KiB/); // 355404 B
  assert.match(html, /<progress max="100" value="25" aria-label="Importing b.pcapng"><\/progress><span>25 %<\/span>/);
  // Packets and flows so far, as the engine reports them.
  assert.match(html, new RegExp(`data-testid="import-counts">${reading.packets.toLocaleString('en-US')} packets · ${reading.flows.toLocaleString('en-US')} flows<`));
  assert.match(html, />Cancel</);
  const figures = [...html.matchAll(/<dt>([^<]+)<\/dt><dd>([^<]+)<\/dd>/g)].map((m) => `${m[1]}=${m[2]}`);
  assert.deepEqual(figures, ['Packets=12,345', 'Bytes=9.4 MiB', 'Connections=17', 'Flow rows=34', 'Duration=2.50 s', 'TCP retransmissions=1.23 %']);
  assert.match(html, /c.pcap.gz: read failed at offset 4096: EIO/);
  assert.match(html, /Capture summaries need the engine/);
  assert.equal(html.match(/<li /g)?.length, 3);
});

test('state rules: refetch the list when an import is new or ends; summarise finished captures once', () => {
  assert.equal(needsRefresh(new Set([2]), reading), false);
  assert.equal(needsRefresh(new Set([1]), reading), true);
  assert.equal(needsRefresh(new Set([2]), { ...reading, phase: 'done', bytesRead: 1000 }), true);

  let state = capturesReducer(initialCapturesState, {
    type: 'records',
    records: [record(1, '/a.pcap'), record(2, '/b.pcapng'), record(3, '/c.pcap', { error: 'bad block' })],
  });
  state = capturesReducer(state, { type: 'progress', progress: reading });
  // 1: listed with no import running (opened before this window); 2: still reading; 3: failed part
  // way, what came before the fault kept — summarised too.
  assert.deepEqual(capturesNeedingSummary(state), [1, 3]);
  state = capturesReducer(state, { type: 'summary', captureId: 1, summary: { state: 'loading' } });
  state = capturesReducer(state, { type: 'summary', captureId: 3, summary: { state: 'loading' } });
  state = capturesReducer(state, { type: 'progress', progress: { ...reading, phase: 'done', bytesRead: 1000 } });
  assert.deepEqual(capturesNeedingSummary(state), [2]);

  for (let i = 0; i < 7; i++) state = capturesReducer(state, { type: 'notice', tone: 'info', text: `n${i}` });
  assert.deepEqual(state.notices.map((n) => n.text), ['n2', 'n3', 'n4', 'n5', 'n6']);
  state = capturesReducer(state, { type: 'dismiss', id: state.notices[0].id });
  assert.deepEqual(state.notices.map((n) => n.text), ['n3', 'n4', 'n5', 'n6']);

  // Kubernetes metadata loaded or removed: a notice with the counts, and the names version moves (views refetch).
  const metadata = { path: '/home/u/cluster.json', source: '/home/u/cluster.json', pods: 6, services: 1, nodes: 2 };
  const version = state.namesVersion;
  state = capturesReducer(state, { type: 'metadata', event: { change: 'loaded', metadata } });
  assert.deepEqual(state.notices.at(-1), { id: state.nextNoticeId - 1, tone: 'info', text: 'Loaded Kubernetes metadata: 6 pods, 1 service (cluster.json)' });
  assert.equal(state.namesVersion, version + 1);
  assert.equal(metadataNotice({ change: 'removed', metadata }), 'Removed Kubernetes metadata: 6 pods, 1 service (cluster.json)');
  // The list of files in effect: the engine's list at start, then the events. Loading a file again
  // replaces its entry; removing one drops it.
  const other = { path: '/tmp/b.json', source: '/tmp/b.json', pods: 1, services: 0, nodes: 0 };
  state = capturesReducer(state, { type: 'metadataList', metadata: [other] });
  state = capturesReducer(state, { type: 'metadata', event: { change: 'loaded', metadata } });
  state = capturesReducer(state, { type: 'metadata', event: { change: 'loaded', metadata: { ...metadata, pods: 7 } } });
  assert.deepEqual(state.metadata, [other, { ...metadata, pods: 7 }]);
  state = capturesReducer(state, { type: 'metadata', event: { change: 'removed', metadata: other } });
  assert.deepEqual(state.metadata.map((m) => m.source), ['/home/u/cluster.json']);

  // Figures that do not apply are left out; malformed packets appear only when there are some.
  assert.deepEqual(summaryFigures(summaryOf({ packets: 3, bytes: 180, malformedPackets: 1 })).map((f) => f.label), [
    'Packets', 'Bytes', 'Connections', 'Flow rows', 'Malformed packets',
  ]);
});

test('dropped files become one openCapture call with their paths; problems become notices', async () => {
  const requests: unknown[] = [];
  const api = {
    pathForFile: (file: File) => (file.name === 'virtual.pcap' ? '' : `/home/u/${file.name}`),
    openCapture: async (request: { paths: string[] }) => {
      requests.push(request);
      return { captureIds: [1], importIds: ['import-1'], rejected: [{ path: '/home/u/cat.png', reason: '/home/u/cat.png: offset 0: not a pcap or pcapng file (magic 89 50 4e 47)' }] };
    },
  } as unknown as AppApi;
  const files = [new File(['x'], 'a.pcap'), new File(['x'], 'virtual.pcap'), new File(['x'], 'cat.png')];
  const notices = await openDroppedFiles(api, files);
  assert.deepEqual(requests, [{ paths: ['/home/u/a.pcap', '/home/u/cat.png'] }]);
  assert.deepEqual(notices, [
    { tone: 'error', text: 'virtual.pcap: not a file on disk, cannot open it.' },
    { tone: 'error', text: '/home/u/cat.png: offset 0: not a pcap or pcapng file (magic 89 50 4e 47)' },
  ]);

  const inBrowser = { openCapture: api.openCapture } as unknown as AppApi;
  assert.match((await openDroppedFiles(inBrowser, files))[0].text, /only be opened in the desktop app/);
  assert.match((await openDroppedFiles(null, files))[0].text, /Not connected/);
});

test('formatting and theme order', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(355404), '347 KiB');
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(fileName('/a/b/c.pcapng'), 'c.pcapng');
  assert.equal(fileName('C:\\caps\\d.pcap'), 'd.pcap');
  assert.equal(percent(250, 1000), 25);
  assert.equal(percent(0, 0), 100);
  assert.equal(formatDuration(850), '850 µs');
  assert.equal(formatDuration(12_345), '12.3 ms');
  assert.equal(formatDuration(4_560_000), '4.56 s');
  assert.equal(formatDuration(125_000_000), '2 min 5 s');
  assert.equal(formatDuration(11_220_000_000), '3 h 7 min');
  assert.deepEqual(['system', 'light', 'dark'].map((m) => nextThemeMode(m as 'system')), ['light', 'dark', 'system']);
});
