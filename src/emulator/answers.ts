/**
 * The hub answers that do not come from an endpoint handler: injected faults, rate-limit
 * throttling and authentication failures, shaped as the hub would send them (REST error JSON
 * `{ error, message }`, a GraphQL error body for an injected HTTP 200 on /v1/graphql), and what
 * the request log may read from a body before it is validated.
 */
import type { HubReply } from './context.js';
import type { ActiveFault, HubEndpoint, Throttle } from './faults.js';
import { restError, type JsonParse } from './http.js';

export function faultReply(fault: ActiveFault, endpoint: HubEndpoint): HubReply {
  const status = fault.status as number;
  const headers = fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : undefined;
  if (fault.bodyBytes !== undefined) return { status, body: 'x'.repeat(fault.bodyBytes), ...(headers ? { headers } : {}), errorCode: 'fault' };
  if (fault.body !== undefined) return { status, body: fault.body, ...(headers ? { headers } : {}), errorCode: 'fault' };
  if (endpoint === 'graphql' && status === 200) {
    return {
      status,
      body: { errors: [{ message: 'injected fault', extensions: { code: 'INTERNAL_SERVER_ERROR' } }], data: null },
      errorCode: 'INTERNAL_SERVER_ERROR',
    };
  }
  const name = status === 429 ? 'too_many_requests' : status === 503 ? 'service_unavailable' : 'injected_fault';
  return { ...restError(status, name, `injected fault: HTTP ${status}`, headers), errorCode: name };
}

export function throttleReply(throttle: Throttle): HubReply {
  const name = throttle.status === 429 ? 'too_many_requests' : 'service_unavailable';
  return { ...restError(throttle.status, name, 'rate limit exceeded', { 'retry-after': throttle.retryAfter }), errorCode: name };
}

export function unauthorizedReply(message: string): HubReply {
  return {
    ...restError(401, 'unauthorized', message, { 'www-authenticate': 'Bearer error="invalid_token"' }),
    errorCode: 'unauthorized',
  };
}

/** What the request log can tell about a body without trusting it. */
export function peek(endpoint: HubEndpoint, json: JsonParse): { clientMutationId: string | null; pointCount: number | null } {
  if (!json.ok) return { clientMutationId: null, pointCount: null };
  const v = json.value as Record<string, unknown> | null;
  if (endpoint === 'spectra') return { clientMutationId: null, pointCount: Array.isArray(v) ? v.length : null };
  if (endpoint !== 'graphql' || typeof v !== 'object' || v === null) return { clientMutationId: null, pointCount: null };
  const vars = v.variables;
  if (typeof vars !== 'object' || vars === null) return { clientMutationId: null, pointCount: null };
  for (const input of Object.values(vars as Record<string, unknown>)) {
    if (typeof input === 'object' && input !== null && 'dataPoints' in input) {
      const i = input as Record<string, unknown>;
      return {
        clientMutationId: typeof i.clientMutationId === 'string' ? i.clientMutationId : null,
        pointCount: Array.isArray(i.dataPoints) ? i.dataPoints.length : null,
      };
    }
  }
  return { clientMutationId: null, pointCount: null };
}
