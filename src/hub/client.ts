/**
 * The HTTP client for the Internal Hub. Requests go through an undici Dispatcher (a keep-alive
 * Pool in production; tests may pass a MockAgent) and come back as HubOutcome values, judged by
 * answer-rules.ts. An answer is read up to `maxResponseBytes` and no further (the contract's
 * answers are small; a proxy's 50 MB page must not take the process's memory), and every
 * request is counted by its outcome, whatever the endpoint, including those that got no answer.
 */
import { Pool, type Dispatcher } from 'undici';
import type { MachineToken } from '../auth/token.js';
import { bodyHead, classifyAnswer, DEFAULT_ANSWER_RULES, type AnswerRules, type HubEndpoint } from './answer-rules.js';
import { describeNetworkError } from '../net/network-error.js';
import { retryable, type HubOutcome } from './outcome.js';
import type { HubTlsMaterial } from '../net/tls.js';

export interface HubClientOptions {
  url: string;
  /** The credential to send; null means none is usable now (the request is not sent). */
  token: () => MachineToken | null;
  timeoutMs: number;
  paths: { graphql: string; sensors: string; spectra: string };
  dispatcher?: Dispatcher;
  connections?: number;
  userAgent?: string;
  /** Bytes of an answer read at most (hub.max_response_bytes); a longer answer is a failure. */
  maxResponseBytes?: number;
  /** What the hub's answers mean where the contract only assumes (hub.answers). */
  answers?: AnswerRules;
  /** hub.tls as read at start (readHubTls): extra CA, client certificate and key. Verification always stays on. */
  tls?: HubTlsMaterial | undefined;
}

/** Requests by outcome label: the HTTP status, or `network`, `timeout`, `tls`, `oversized`. */
export type RequestCounts = Map<string, number>;

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export class HubClient {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly origin: string;
  private readonly basePath: string;
  /** Every request by outcome label (hub_requests_total). */
  readonly requests: RequestCounts = new Map();
  /** Answers outside the contract, by "endpoint status" (hub_unexpected_answers_total). */
  readonly unexpectedAnswers: RequestCounts = new Map();

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
    return this.post('graphql', body, { 'idempotency-key': batchId }, batchId, signal);
  }

  /** POST a JSON array of spectrum objects (body already encoded). */
  storeSpectra(body: string, batchId: string, signal?: AbortSignal): Promise<HubOutcome> {
    return this.post('spectra', body, { 'idempotency-key': batchId }, undefined, signal);
  }

  createSensor(
    sensor: { name: string; mappingId: string; ingest: 'timeseries' | 'frequency'; description?: string | undefined },
    signal?: AbortSignal,
  ): Promise<HubOutcome> {
    return this.post('sensors', JSON.stringify(sensor), {}, undefined, signal);
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async post(
    endpoint: HubEndpoint,
    body: string | Uint8Array,
    headers: Record<string, string>,
    batchId: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HubOutcome> {
    const credential = this.opts.token();
    if (credential === null) {
      return { kind: 'unauthorized', status: 0, reason: 'no usable credential yet' };
    }
    const path = this.basePath + this.opts.paths[endpoint];
    // One controller per request, its listener on the caller's long-lived signal removed at the
    // end: AbortSignal.any() on a signal that lives as long as the process keeps an entry per
    // request on Node 20 (nodejs/node#55351), a slow leak over months of requests.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no answer within ${this.opts.timeoutMs} ms`));
    }, this.opts.timeoutMs);
    const abandon = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', abandon, { once: true });
    if (signal?.aborted) abandon();
    const limit = this.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    let answer: { status: number; headers: Record<string, string | string[] | undefined>; text: string };
    try {
      const res = await this.dispatcher.request({
        origin: this.origin,
        path,
        method: 'POST',
        headers: {
          authorization: credential.bearer(),
          'content-type': 'application/json',
          'user-agent': this.opts.userAgent ?? 'senseye-agent',
          ...headers,
        },
        body,
        signal: controller.signal,
      });
      const read = await readBounded(res.body, limit);
      if (read.oversized) {
        this.count('oversized');
        this.countUnexpected(endpoint, res.statusCode);
        return retryable(
          'unexpected',
          res.statusCode,
          `the hub answered ${res.statusCode} at ${path} with more than hub.max_response_bytes (${limit} bytes); the rest was discarded; body: ${bodyHead(read.text)}`,
        );
      }
      answer = { status: res.statusCode, headers: res.headers, text: read.text };
    } catch (err) {
      if (timedOut) {
        this.count('timeout');
        return retryable('timeout', null, `no answer within ${this.opts.timeoutMs} ms (hub.timeout) from ${path}`);
      }
      if (signal?.aborted) return retryable('network', null, 'request abandoned at shutdown');
      const described = describeNetworkError(err);
      this.count(described.label);
      return retryable(described.label, null, described.reason);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abandon);
    }
    this.count(String(answer.status));
    const outcome = classifyAnswer(answer, { endpoint, path, batchId }, this.opts.answers ?? DEFAULT_ANSWER_RULES);
    if (outcome.kind === 'retryable' && outcome.cause === 'unexpected') this.countUnexpected(endpoint, answer.status);
    return outcome;
  }

  private count(label: string): void {
    this.requests.set(label, (this.requests.get(label) ?? 0) + 1);
  }

  private countUnexpected(endpoint: HubEndpoint, status: number): void {
    const key = `${endpoint} ${status}`;
    this.unexpectedAnswers.set(key, (this.unexpectedAnswers.get(key) ?? 0) + 1);
  }
}

/**
 * Reads an answer's body up to `limit` bytes. Past it the stream is destroyed (the connection
 * with it) and what was read is returned as the body's head.
 */
async function readBounded(body: Dispatcher.ResponseData['body'], limit: number): Promise<{ text: string; oversized: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > limit) {
      chunks.push(chunk.subarray(0, Math.max(0, chunk.length - (bytes - limit))));
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8', 0, Math.min(limit, 4096)), oversized: true };
    }
    chunks.push(chunk);
  }
  return { text: Buffer.concat(chunks, bytes).toString('utf8'), oversized: false };
}
