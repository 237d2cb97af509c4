import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { connectApi } from './api';
import { applyTheme, loadThemeMode } from './theme';
import './styles.css';

// Before the first render, so a stored theme choice never flashes the other one.
applyTheme(loadThemeMode());

// Files dropped anywhere but the drop zone must not make the window navigate to them.
for (const type of ['dragover', 'drop'] as const) {
  window.addEventListener(type, (event) => event.preventDefault());
}

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App api={connectApi()} />
  </StrictMode>,
);
