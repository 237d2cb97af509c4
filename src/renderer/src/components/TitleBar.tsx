import type { ThemeMode } from '../theme';

const THEME_LABEL: Record<ThemeMode, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

export function TitleBar(props: { captureCount: number; engine: string | null; theme: ThemeMode; onCycleTheme: () => void }) {
  const { captureCount, engine, theme, onCycleTheme } = props;
  return (
    <header className="title-bar">
      <h1 className="title-bar__name">Flowscope</h1>
      <span className="title-bar__meta">
        {captureCount === 0 ? 'No captures open' : `${captureCount} capture${captureCount === 1 ? '' : 's'}`}
      </span>
      <span className="title-bar__spacer" />
      {engine && (
        <span className="title-bar__engine" title="What answers the API in this build">
          {engine}
        </span>
      )}
      <button type="button" className="button" onClick={onCycleTheme} aria-label={`${THEME_LABEL[theme]} (click to change)`}>
        {THEME_LABEL[theme]}
      </button>
    </header>
  );
}
