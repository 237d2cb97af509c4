// Binds the captures state to the API: initial lists of captures and metadata, import progress
// events, summaries, and metadataChanged events (a notice, the list, and the views refetch with the
// new names).

import { useCallback, useEffect, useReducer, useRef } from 'react';
import type { FlowscopeClient } from '../../shared/api';
import {
  capturesNeedingSummary,
  capturesReducer,
  initialCapturesState,
  needsRefresh,
  type CapturesAction,
  type CapturesState,
} from './captures-state';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function useCaptures(
  api: FlowscopeClient | null,
): [CapturesState, (action: CapturesAction) => void] {
  const [state, dispatch] = useReducer(capturesReducer, initialCapturesState);
  // The event listener is registered once; it reads the current records through this ref.
  const known = useRef<ReadonlySet<number>>(new Set());
  useEffect(() => {
    known.current = new Set(state.records.map((r) => r.captureId));
  }, [state.records]);

  const refresh = useCallback(() => {
    if (!api) return;
    api.listCaptures().then(
      (records) => dispatch({ type: 'records', records }),
      (err) => dispatch({ type: 'notice', tone: 'error', text: `Could not list captures: ${message(err)}` }),
    );
  }, [api]);

  useEffect(() => {
    if (!api) return;
    refresh();
    api.listMetadata().then(
      (metadata) => dispatch({ type: 'metadataList', metadata }),
      (err) => dispatch({ type: 'notice', tone: 'error', text: `Could not list Kubernetes metadata: ${message(err)}` }),
    );
    const offProgress = api.on('importProgress', (progress) => {
      dispatch({ type: 'progress', progress });
      if (needsRefresh(known.current, progress)) refresh();
    });
    const offMetadata = api.on('metadataChanged', (event) => dispatch({ type: 'metadata', event }));
    return () => {
      offProgress();
      offMetadata();
    };
  }, [api, refresh]);

  const wanted = capturesNeedingSummary(state).join(',');
  useEffect(() => {
    if (!api || wanted === '') return;
    for (const captureId of wanted.split(',').map(Number)) {
      dispatch({ type: 'summary', captureId, summary: { state: 'loading' } });
      api.captureSummary({ captureIds: [captureId] }).then(
        (summary) => dispatch({ type: 'summary', captureId, summary: { state: 'ready', summary } }),
        (err) => dispatch({ type: 'summary', captureId, summary: { state: 'unavailable', reason: message(err) } }),
      );
    }
  }, [api, wanted]);

  return [state, dispatch];
}
