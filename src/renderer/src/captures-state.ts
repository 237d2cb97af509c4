// What the shell knows about open captures: the engine's records, the latest import progress of
// each, its summary when the engine provides one, and notices for the user. A pure reducer, so the
// rules (when to refetch, what to show) are testable without a browser.

import type { CaptureSummary, ImportProgress } from '../../shared/api';
import type { CaptureRecord } from '../../shared/records';
import { labelFromKey } from './format';

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
}

export type CapturesAction =
  | { type: 'records'; records: CaptureRecord[] }
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'summary'; captureId: number; summary: SummaryState }
  | { type: 'notice'; tone: Notice['tone']; text: string }
  | { type: 'dismiss'; id: number };

export const initialCapturesState: CapturesState = {
  records: [],
  progress: {},
  summaries: {},
  notices: [],
  nextNoticeId: 1,
};

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
    case 'dismiss':
      return { ...state, notices: state.notices.filter((n) => n.id !== action.id) };
  }
}

/** The list must be refetched when an import reports a capture we have not listed, or ends. */
export function needsRefresh(listed: ReadonlySet<number>, progress: ImportProgress): boolean {
  return progress.phase !== 'reading' || !listed.has(progress.captureId);
}

/** Captures whose summary should be asked for now: imported (or listed with no import running) and not yet asked. */
export function capturesNeedingSummary(state: CapturesState): number[] {
  return state.records
    .filter((r) => {
      if (state.summaries[r.captureId]) return false;
      const progress = state.progress[r.captureId];
      return progress === undefined ? r.error === null : progress.phase === 'done';
    })
    .map((r) => r.captureId);
}

/** The numbers of a summary worth showing: its top-level numeric fields, labelled. */
export function summaryNumbers(summary: CaptureSummary): { key: string; label: string; value: number }[] {
  const numbers: { key: string; label: string; value: number }[] = [];
  for (const [key, value] of Object.entries(summary)) {
    if (key.endsWith('Id') || key === 'id') continue;
    if (typeof value === 'number' && Number.isFinite(value)) numbers.push({ key, label: labelFromKey(key), value });
    else if (typeof value === 'bigint') numbers.push({ key, label: labelFromKey(key), value: Number(value) });
  }
  return numbers;
}
