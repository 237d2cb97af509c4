// What the shell knows about open captures: the engine's records, the latest import progress of
// each, its summary when the engine provides one, notices for the user, the Kubernetes metadata
// files in effect, and how often the names changed (metadata loaded or removed: views refetch). A pure reducer, so the
// rules (when to refetch, what to show) are testable without a browser.

import type { CaptureSummary, ImportProgress, MetadataChanged, MetadataSource } from '../../shared/api';
import type { CaptureRecord } from '../../shared/records';
import { fileName, formatBytes, formatCount, formatDuration } from './format';

export type SummaryState =
  | { state: 'loading' }
  | { state: 'ready'; summary: CaptureSummary }
  | { state: 'unavailable'; reason: string };

export interface Notice {
  id: number;
  tone: 'info' | 'error';
  text: string;
}

export interface CapturesState {
  records: CaptureRecord[];
  progress: Record<number, ImportProgress>;
  summaries: Record<number, SummaryState>;
  notices: Notice[];
  nextNoticeId: number;
  /** Bumped on every metadataChanged event: part of the views' data key, so they refetch with the new names. */
  namesVersion: number;
  /** Kubernetes metadata files whose names are in effect, in the order they were loaded. */
  metadata: MetadataSource[];
}

export type CapturesAction =
  | { type: 'records'; records: CaptureRecord[] }
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'summary'; captureId: number; summary: SummaryState }
  | { type: 'notice'; tone: Notice['tone']; text: string }
  | { type: 'metadata'; event: MetadataChanged }
  | { type: 'metadataList'; metadata: MetadataSource[] }
  | { type: 'dismiss'; id: number };

export const initialCapturesState: CapturesState = {
  records: [],
  progress: {},
  summaries: {},
  notices: [],
  nextNoticeId: 1,
  namesVersion: 0,
  metadata: [],
};

/** What the user is told when Kubernetes metadata is loaded or removed. */
export function metadataNotice({ change, metadata }: MetadataChanged): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const what = `${plural(metadata.pods, 'pod')}, ${plural(metadata.services, 'service')}`;
  return `${change === 'loaded' ? 'Loaded' : 'Removed'} Kubernetes metadata: ${what} (${fileName(metadata.path)})`;
}

export function capturesReducer(state: CapturesState, action: CapturesAction): CapturesState {
  switch (action.type) {
    case 'records':
      return { ...state, records: action.records };
    case 'progress':
      return { ...state, progress: { ...state.progress, [action.progress.captureId]: action.progress } };
    case 'summary':
      return { ...state, summaries: { ...state.summaries, [action.captureId]: action.summary } };
    case 'notice': {
      const notice = { id: state.nextNoticeId, tone: action.tone, text: action.text };
      // The newest five are plenty; older ones drop off.
      return { ...state, notices: [...state.notices, notice].slice(-5), nextNoticeId: state.nextNoticeId + 1 };
    }
    case 'metadata': {
      const noticed = capturesReducer(state, { type: 'notice', tone: 'info', text: metadataNotice(action.event) });
      const { change, metadata } = action.event;
      // Loading a file again replaces what it held; the removed event names the source it removed.
      const others = state.metadata.filter((m) => m.source !== metadata.source);
      return { ...noticed, namesVersion: state.namesVersion + 1, metadata: change === 'loaded' ? [...others, metadata] : others };
    }
    case 'metadataList':
      return { ...state, metadata: action.metadata };
    case 'dismiss':
      return { ...state, notices: state.notices.filter((n) => n.id !== action.id) };
  }
}

/** The list must be refetched when an import reports a capture we have not listed, or ends. */
export function needsRefresh(listed: ReadonlySet<number>, progress: ImportProgress): boolean {
  return progress.phase !== 'reading' || !listed.has(progress.captureId);
}

/**
 * Captures whose summary should be asked for now and was not yet: imported, or failed part way (what
 * came before the fault is kept and worth showing), or listed with no import running.
 */
export function capturesNeedingSummary(state: CapturesState): number[] {
  return state.records
    .filter((r) => {
      if (state.summaries[r.captureId]) return false;
      const progress = state.progress[r.captureId];
      return progress === undefined || progress.phase === 'done' || progress.phase === 'failed';
    })
    .map((r) => r.captureId);
}

/** The headline figures of a summary, formatted for the capture list. */
export function summaryFigures(summary: CaptureSummary): { label: string; value: string }[] {
  const figures = [
    { label: 'Packets', value: formatCount(summary.packets) },
    { label: 'Bytes', value: formatBytes(summary.bytes) },
    { label: 'Connections', value: formatCount(summary.connections) },
    { label: 'Flow rows', value: formatCount(summary.flowRows) },
  ];
  if (summary.durationUs !== null) figures.push({ label: 'Duration', value: formatDuration(summary.durationUs) });
  const ratio = summary.tcp?.retransRatio ?? null;
  if (ratio !== null) figures.push({ label: 'TCP retransmissions', value: `${(ratio * 100).toFixed(2)} %` });
  if (summary.malformedPackets > 0) figures.push({ label: 'Malformed packets', value: formatCount(summary.malformedPackets) });
  return figures;
}
