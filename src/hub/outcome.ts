/**
 * What a hub request came to, as a value (OpenTelemetry's exporter style): the client never
 * throws on an HTTP status, and the shipper decides per kind. `retryable` never loses data,
 * `rejected` is permanent for exactly the data in that request.
 */
export type HubOutcome =
  | { kind: 'ok'; status: number; body: unknown }
  | { kind: 'retryable'; status: number | null; throttled: boolean; retryAfterMs: number | undefined; reason: string }
  | { kind: 'rejected'; status: number; reason: string }
  | { kind: 'too_large'; status: 413; reason: string }
  | { kind: 'unauthorized'; status: number; reason: string }
  | { kind: 'forbidden'; status: number; reason: string }
  | { kind: 'conflict'; status: 409; body: unknown };

export type HubFailure = Exclude<HubOutcome, { kind: 'ok' } | { kind: 'conflict' }>;
