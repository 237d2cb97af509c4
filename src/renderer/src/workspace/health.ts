// Health of a node or edge from its RED numbers, after Kiali's defaults (config.go AddHealthDefault:
// 5xx fails at 10 %, 4xx degrades at 10 % and fails at 20 %) made stricter at the low end, as the
// brief asks: any error rate above 0.1 % already marks it degraded, so a single failing request in
// a capture of hundreds is visible on the map.
//
//   failure  — server errors ≥ 10 % of responses, or all errors ≥ 20 %, or timeouts ≥ 10 % of requests
//   degraded — errors > 0.1 % of responses, or timeouts > 0.1 % of requests
//   healthy  — anything else with requests
//   idle     — no requests (a pure TCP/UDP edge, or a node that served nothing)

import type { RedStats } from '../../../shared/views';

export type Health = 'healthy' | 'degraded' | 'failure' | 'idle';

export const HEALTH_THRESHOLDS = {
  degradedErrorRatio: 0.001,
  failureErrorRatio: 0.2,
  failureServerErrorRatio: 0.1,
  degradedTimeoutRatio: 0.001,
  failureTimeoutRatio: 0.1,
} as const;

export function healthOf(red: RedStats | null | undefined): Health {
  if (!red || red.requests === 0) return 'idle';
  const t = HEALTH_THRESHOLDS;
  const serverRatio = red.responses > 0 ? red.serverErrors / red.responses : 0;
  if (serverRatio >= t.failureServerErrorRatio || red.errorRatio >= t.failureErrorRatio || red.timeoutRatio >= t.failureTimeoutRatio) {
    return 'failure';
  }
  if (red.errorRatio > t.degradedErrorRatio || red.timeoutRatio > t.degradedTimeoutRatio) return 'degraded';
  return 'healthy';
}

export const HEALTH_LABEL: Record<Health, string> = {
  healthy: 'Healthy',
  degraded: 'Degraded',
  failure: 'Failure',
  idle: 'No requests',
};
