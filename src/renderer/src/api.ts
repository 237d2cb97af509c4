// The renderer's only way out: the typed API. The desktop preload puts its wire methods on
// `window.flowscope`; the browser build of `flowscope serve` will put an HTTP transport with the same
// type there. Without either the UI says it is not connected.

import { createClient, type DesktopCapabilities, type FlowscopeClient } from '../../shared/api';

export type AppApi = FlowscopeClient & DesktopCapabilities;

export function connectApi(): AppApi | null {
  const bridge = window.flowscope;
  if (!bridge) return null;
  return { ...createClient(bridge), pathForFile: bridge.pathForFile };
}
