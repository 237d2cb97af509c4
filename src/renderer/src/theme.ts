// Light/dark theme: follows the system (prefers-color-scheme) unless the user picks one. The choice
// is a `data-theme` attribute on <html>; styles.css maps it to colour variables.

import { useCallback, useEffect, useMemo, useState } from 'react';

export type ThemeMode = 'system' | 'light' | 'dark';

const STORAGE_KEY = 'flowscope.theme';
const ORDER: readonly ThemeMode[] = ['system', 'light', 'dark'];

export function nextThemeMode(mode: ThemeMode): ThemeMode {
  return ORDER[(ORDER.indexOf(mode) + 1) % ORDER.length];
}

export function loadThemeMode(): ThemeMode {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return stored === 'light' || stored === 'dark' ? stored : 'system';
  } catch {
    return 'system';
  }
}

export function applyTheme(mode: ThemeMode): void {
  if (mode === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = mode;
}

function storeThemeMode(mode: ThemeMode): void {
  try {
    if (mode === 'system') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, mode);
  } catch {
    // Storage can be unavailable (private browsing); the choice then lasts for this session.
  }
}

export function useTheme(): [ThemeMode, () => void] {
  const [mode, setMode] = useState<ThemeMode>(loadThemeMode);
  const cycle = useCallback(() => {
    setMode((current) => {
      const next = nextThemeMode(current);
      applyTheme(next);
      storeThemeMode(next);
      return next;
    });
  }, []);
  return [mode, cycle];
}

/** The theme actually shown ('light' | 'dark'), following the system while the mode is 'system'. */
export function useResolvedTheme(mode: ThemeMode): 'light' | 'dark' {
  const query = useMemo(() => (typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null), []);
  const [systemDark, setSystemDark] = useState(query?.matches ?? false);
  useEffect(() => {
    if (!query) return;
    const onChange = () => setSystemDark(query.matches);
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }, [query]);
  if (mode === 'system') return systemDark ? 'dark' : 'light';
  return mode;
}
