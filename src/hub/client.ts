/**
 * The HTTP client for the Internal Hub. Requests go through an undici Dispatcher (a keep-alive
 * Pool in production; tests may pass a MockAgent) and come back as HubOutcome values.
 * GraphQL answers 200 even for failures, so every 200 is read for a top-level `errors` array.
 */
import { Pool, type Dispatcher } from 'undici';
import type { MachineToken } from '../auth/token.js';
import { describeNetworkError } from './network-error.js';
import type { HubOutcome } from './outcome.js';
import { parseRetryAfter } from './retry-policy.js';
import type { HubTlsMaterial } from './tls.js';

export interface HubClientOptions {
  url: string;
  /** The credential to send; null means none is usable now (the request is not sent). */
  token: () => MachineToken | null;
  timeoutMs: number;
  paths: { graphql: string; sensors: string; spectra: string };
  dispatcher?: Dispatcher;
  connections?: number;
  userAgent?: string;
  /** hub.tls as read at start (readHubTls): extra CA, client certificate and key. Verification always stays on. */
  tls?: HubTlsMaterial | undefined;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export class HubClient {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly origin: string;
  private readonly basePath: string;

  constructor(private readonly opts: HubClientOptions) {
    const url = new URL(opts.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.ownsDispatcher = opts.dispatcher === undefined;
    this.dispatcher =
      opts.dispatcher ??
      new Pool(this.origin, {
        connections: opts.connections ?? 8,
        keepAliveTimeout: 30_000,
        connectTimeout: Math.min(opts.timeoutMs, 10_000),
        ...(opts.tls === undefined ? {} : { connect: { ...opts.tls } }),
      });
  }

  /** POST the storeSensorMeasureData mutation (body already encoded). */
  storeMeasures(body: string | Uint8Array, batchId: string, signal?: AbortSignal): Promise<HubOutcome> {
    return this.post(this.opts.paths.graphql, body, { 'idempotency-key': batchId }, true, signal);
  }

  /** POST a JSON array of spectrum objects (body already encoded). */
  storeSpectra(body: string, batchId: string, signal?: AbortSignal): Promise<HubOutcome> {
    return this.post(this.opts.paths.spectra, body, { 'idempotency-key': batchId }, false, signal);
  }

  createSensor(
    sensor: { name: string; mappingId: string; ingest: 'timeseries' | 'frequency'; description?: string | undefined },
    signal?: AbortSignal,
  ): Promise<HubOutcome> {
    return this.post(this.opts.paths.sensors, JSON.stringify(sensor), {}, false, signal);
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async post(
    path: string,
    body: string | Uint8Array,
    headers: Record<string, string>,
    graphql: boolean,
    signal: AbortSignal | undefined,
  ): Promise<HubOutcome> {
    const credential = this.opts.token();
    if (credential === null) {
      return { kind: 'unauthorized', status: 0, reason: 'no usable credential yet' };
    }
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let status: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const res = await this.dispatcher.request({
        origin: this.origin,
        path: this.basePath + path,
        method: 'POST',
        headers: {
          authorization: credential.bearer(),
          'content-type': 'application/json',
          'user-agent': this.opts.userAgent ?? 'senseye-agent',
          ...headers,
        },
        body,
        signal: combined,
      });
      status = res.statusCode;
      responseHeaders = res.headers;
      text = await res.body.text();
    } catch (err) {
      const e = err as Error & { code?: string };
      const reason = timeout.aborted
        ? `no answer within ${this.opts.timeoutMs} ms`
        : signal?.aborted
          ? 'request abandoned at shutdown'
          : describeNetworkError(e).reason;
      return { kind: 'retryable', status: null, throttled: false, retryAfterMs: undefined, reason };
    }
    return classify(status, responseHeaders, text, graphql);
  }
}

export function classify(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
  graphql: boolean,
): HubOutcome {
  const body = parseJson(text);
  const message = describe(body, text, status);
  if (status === 200 || status === 201 || status === 202) {
    if (graphql) {
      const errors = (body as { errors?: unknown } | undefined)?.errors;
      if (Array.isArray(errors) && errors.length > 0) return classifyGraphqlErrors(errors, status);
      if (body === undefined) return { kind: 'retryable', status, throttled: false, retryAfterMs: undefined, reason: 'hub answered 200 with a body that is not JSON' };
    }
    return { kind: 'ok', status, body };
  }
  if (status === 409) return { kind: 'conflict', status, body };
  if (status === 401) return { kind: 'unauthorized', status, reason: message };
  if (status === 403) return { kind: 'forbidden', status, reason: message };
  if (status === 413) return { kind: 'too_large', status, reason: message };
  if (RETRYABLE_STATUS.has(status)) {
    return {
      kind: 'retryable',
      status,
      throttled: status === 429 || status === 503,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
      reason: message,
    };
  }
  if (status >= 400 && status < 500) return { kind: 'rejected', status, reason: message };
  return { kind: 'retryable', status, throttled: false, retryAfterMs: undefined, reason: message };
}

function classifyGraphqlErrors(errors: unknown[], status: number): HubOutcome {
  const codes = errors.map((e) => (e as { extensions?: { code?: unknown } }).extensions?.code);
  const messages = errors.map((e) => String((e as { message?: unknown }).message ?? 'unknown error')).join('; ');
  if (codes.includes('UNAUTHENTICATED')) return { kind: 'unauthorized', status, reason: messages };
  if (codes.includes('FORBIDDEN')) return { kind: 'forbidden', status, reason: messages };
  if (codes.includes('BAD_USER_INPUT') || codes.includes('GRAPHQL_VALIDATION_FAILED')) {
    return { kind: 'rejected', status, reason: messages };
  }
  // An error we cannot classify may be the server's own fault: keep the data and retry.
  return { kind: 'retryable', status, throttled: false, retryAfterMs: undefined, reason: `GraphQL error: ${messages}` };
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(body: unknown, text: string, status: number): string {
  const b = body as { message?: unknown; error?: unknown } | undefined;
  const detail = typeof b?.message === 'string' ? b.message : typeof b?.error === 'string' ? b.error : text.slice(0, 200);
  return detail.length > 0 ? `HTTP ${status}: ${detail}` : `HTTP ${status}`;
}
