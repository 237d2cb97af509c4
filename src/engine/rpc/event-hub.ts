// Fans the engine's events out to any number of transport clients (browser tabs of `flowscope
// serve`, tests). The service gets `emit`; each client subscribes and unsubscribes on its own.

import type { ApiEvent, EmitEvent } from '../../shared/api';

export interface EventHub {
  emit: EmitEvent;
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

export function createEventHub(): EventHub {
  const listeners = new Set<(event: ApiEvent) => void>();
  return {
    emit: (name, payload) => {
      const event = { name, payload } as ApiEvent;
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (err) {
          // One broken client must not stop the others, nor the import that emitted.
          console.error(`flowscope: event listener failed: ${(err as Error).message}`);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
