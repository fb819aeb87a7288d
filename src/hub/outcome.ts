/**
 * What a hub request came to, as a value (OpenTelemetry's exporter style): the client never
 * throws on an HTTP status, and the shipper decides per kind. The model (docs/hub-contract.md):
 *
 * - `ok` / `conflict`: the answer meets the endpoint's success rule, and only then may rows be
 *   deleted. Anything short of it (a `200 {}`, a body that is not JSON, an answer for another
 *   mutation) is `retryable` with cause `unexpected`.
 * - `rejected` / `too_large`: the answer says the payload is at fault (GraphQL BAD_USER_INPUT,
 *   a 400/422 whose body the contract recognises, 413): the batch is split to isolate it.
 * - `unauthorized` / `forbidden`: the credential is at fault: delivery pauses, nothing is lost.
 * - `retryable`: anything else. Nothing is deleted and nothing is dead-lettered; the sink backs
 *   off. `cause` says why, for the log, the metrics and readiness.
 */
export type RetryCause =
  /** 429 / 503: the hub asked the agent to slow down. */
  | 'throttled'
  /** 5xx, 408, 425, or a GraphQL error the contract does not name. */
  | 'server'
  /** No answer: connection refused or reset, DNS. */
  | 'network'
  | 'timeout'
  | 'tls'
  /** An answer outside the contract: 404, 405, a 3xx, a `200 {}`, an HTML page, an oversized body. */
  | 'unexpected'
  /** Not the hub: it accepted, but the outbox could not record that (a full disk); sent again later. */
  | 'storage';

export type HubOutcome =
  | { kind: 'ok'; status: number; body: unknown }
  | { kind: 'retryable'; status: number | null; cause: RetryCause; throttled: boolean; retryAfterMs: number | undefined; reason: string }
  | { kind: 'rejected'; status: number; reason: string }
  | { kind: 'too_large'; status: 413; reason: string }
  | { kind: 'unauthorized'; status: number; reason: string }
  | { kind: 'forbidden'; status: number; reason: string }
  | { kind: 'conflict'; status: 409; body: unknown };

export type HubFailure = Exclude<HubOutcome, { kind: 'ok' } | { kind: 'conflict' }>;

export type RetryableOutcome = Extract<HubOutcome, { kind: 'retryable' }>;

export function retryable(cause: RetryCause, status: number | null, reason: string, retryAfterMs?: number): RetryableOutcome {
  return { kind: 'retryable', status, cause, throttled: cause === 'throttled', retryAfterMs, reason };
}
