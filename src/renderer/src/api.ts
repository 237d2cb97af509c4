// The renderer's only way out: the typed API, over whichever transport this page has. The desktop
// preload puts its wire methods on `window.flowscope`; a page served by `flowscope serve` has the
// token in its URL and talks HTTP + Server-Sent Events (http-transport.ts). Without either the UI
// says it is not connected.

import { createClient, type DesktopCapabilities, type FlowscopeClient } from '../../shared/api';
import { createHttpWire, tokenFromUrl } from './http-transport';

export type AppApi = FlowscopeClient & DesktopCapabilities;

export function connectApi(): AppApi | null {
  const bridge = window.flowscope;
  if (bridge) return { ...createClient(bridge), pathForFile: bridge.pathForFile };
  const token = tokenFromUrl(window.location.href);
  if (token) return createClient(createHttpWire({ baseUrl: new URL('/', window.location.href).href, token }));
  return null;
}
