// Runs one API call whenever its request (compared by value) or the data changes, and keeps the last
// answer on screen while the next one is on its way, so tables do not flash empty while refetching.

import { useEffect, useState } from 'react';

export interface CallState<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

export function useApiCall<T>(call: (() => Promise<T>) | null, key: string): CallState<T> {
  const [state, setState] = useState<CallState<T>>({ data: null, error: null, loading: call !== null });
  useEffect(() => {
    if (!call) return;
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    call().then(
      (data) => current && setState({ data, error: null, loading: false }),
      (err: unknown) => current && setState({ data: null, error: err instanceof Error ? err.message : String(err), loading: false }),
    );
    return () => {
      current = false;
    };
    // `call` is a fresh closure each render; the key says when its request really changed.
  }, [key]);
  return state;
}
