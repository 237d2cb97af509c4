import { useCallback, useEffect, useState } from 'react';
import type { AppApi } from './api';
import { CaptureList } from './components/CaptureList';
import { DropZone } from './components/DropZone';
import { EmptyState } from './components/EmptyState';
import { MetadataList } from './components/MetadataList';
import { Notices } from './components/Notices';
import { TitleBar } from './components/TitleBar';
import { useResolvedTheme, useTheme } from './theme';
import { Workspace } from './workspace/Workspace';
import { useCaptures } from './use-captures';
import { openDroppedFiles } from './open-files';

export function App(props: { api: AppApi | null }) {
  const { api } = props;
  const [theme, cycleTheme] = useTheme();
  const [state, dispatch] = useCaptures(api);
  const [engine, setEngine] = useState<string | null>(null);
  const resolvedTheme = useResolvedTheme(theme);
  // Views refetch when a capture is added, an import ends, or names change (Kubernetes metadata).
  const dataKey =
    state.records.map((r) => `${r.captureId}:${state.progress[r.captureId]?.phase ?? 'listed'}`).join(',') + `;names ${state.namesVersion}`;
  const hasCaptures = state.records.length > 0;

  useEffect(() => {
    api?.appInfo().then(
      (info) => setEngine(info.engine),
      () => setEngine(null),
    );
  }, [api]);

  const onFiles = useCallback(
    (files: File[]) => {
      void openDroppedFiles(api, files).then((notices) => {
        for (const notice of notices) dispatch({ type: 'notice', ...notice });
      });
    },
    [api, dispatch],
  );

  const onCancel = useCallback(
    (importId: string) => {
      api?.cancelImport({ importId }).catch((err: unknown) =>
        dispatch({ type: 'notice', tone: 'error', text: `Could not cancel: ${err instanceof Error ? err.message : String(err)}` }),
      );
    },
    [api, dispatch],
  );

  const onRemoveMetadata = useCallback(
    (source: string) => {
      // The list and the notice follow from the engine's metadataChanged event.
      api?.removeMetadata({ source }).catch((err: unknown) =>
        dispatch({ type: 'notice', tone: 'error', text: `Could not remove the metadata: ${err instanceof Error ? err.message : String(err)}` }),
      );
    },
    [api, dispatch],
  );

  return (
    <div className="app">
      <TitleBar captureCount={state.records.length} engine={engine} theme={theme} onCycleTheme={cycleTheme} />
      <DropZone onFiles={onFiles}>
        <Notices notices={state.notices} onDismiss={(id) => dispatch({ type: 'dismiss', id })} />
        <Workspace
          api={api}
          hasCaptures={hasCaptures}
          dataKey={dataKey}
          themeKey={resolvedTheme}
          captures={
            <>
              {state.records.length === 0 ? (
                <EmptyState connected={api !== null} />
              ) : (
                <CaptureList records={state.records} progress={state.progress} summaries={state.summaries} onCancel={onCancel} />
              )}
              <MetadataList metadata={state.metadata} onRemove={onRemoveMetadata} />
            </>
          }
        />
      </DropZone>
    </div>
  );
}
