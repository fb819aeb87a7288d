/**
 * The hub's answers, judged against the contract (docs/hub-contract.md). One rule decides what
 * counts as success, per endpoint, and nothing less than it does:
 *   - GraphQL mutation: 200, a JSON object without `errors`, whose `data.storeSensorMeasureData`
 *     is an object (or, in the documented shape, `data.clientMutationId` is present); an echoed
 *     clientMutationId must be the one sent;
 *   - sensor creation: `hub.answers.sensor_created` (201) or 409, each with the sensor's id;
 *   - spectra: `hub.answers.spectra_accepted` (202).
 * Only an answer that says the payload is at fault leads to a split (GraphQL BAD_USER_INPUT,
 * 400/422 with a body the contract recognises, 413). Statuses outside the contract (404, 405,
 * 410, a redirect, an HTML page) are `unexpected`: retried with backoff, never a dead letter,
 * because they say something about the route or a proxy, not about the readings.
 */
import { retryable, type HubOutcome } from './outcome.js';
import { parseRetryAfter } from '../net/retry-policy.js';

export type HubEndpoint = 'graphql' | 'sensors' | 'spectra';

export interface AnswerRules {
  /** Statuses that mean "sensor created" (hub-api.md assumes 201). */
  sensorCreated: readonly number[];
  /** Statuses that mean "spectra stored" (hub-api.md assumes 202). */
  spectraAccepted: readonly number[];
  /** A 409 on a data endpoint means "already stored" (an idempotency layer in front of the hub). Off by default: not in the contract. */
  conflictMeansStored: boolean;
}

export const DEFAULT_ANSWER_RULES: AnswerRules = { sensorCreated: [201], spectraAccepted: [202], conflictMeansStored: false };

/** The rules as configured (hub.answers). */
export function answerRulesOf(hub: { answers: { sensor_created: number[]; spectra_accepted: number[]; conflict_means_stored: boolean } }): AnswerRules {
  return { sensorCreated: hub.answers.sensor_created, spectraAccepted: hub.answers.spectra_accepted, conflictMeansStored: hub.answers.conflict_means_stored };
}

export interface HubAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface AnswerContext {
  endpoint: HubEndpoint;
  /** The request path, for messages that tell the operator where the answer came from. */
  path: string;
  /** The clientMutationId sent (GraphQL), checked against the echo. */
  batchId?: string | undefined;
}

const THROTTLING = new Set([429, 503]);
const SERVER_TROUBLE = new Set([408, 425, 500, 502, 504]);

export function classifyAnswer(answer: HubAnswer, ctx: AnswerContext, rules: AnswerRules = DEFAULT_ANSWER_RULES): HubOutcome {
  const { status, headers, text } = answer;
  const body = parseJson(text);
  if (status === 401) return { kind: 'unauthorized', status, reason: describe(body, text, status) };
  if (status === 403) return { kind: 'forbidden', status, reason: describe(body, text, status) };
  if (status === 413) return { kind: 'too_large', status, reason: describe(body, text, status) };
  if (THROTTLING.has(status)) return retryable('throttled', status, describe(body, text, status), parseRetryAfter(headers['retry-after']));
  if (SERVER_TROUBLE.has(status) || (status >= 500 && status < 600)) return retryable('server', status, describe(body, text, status));
  switch (ctx.endpoint) {
    case 'graphql':
      return graphqlAnswer(status, body, text, ctx, rules);
    case 'sensors':
      return sensorAnswer(status, body, text, ctx, rules);
    case 'spectra':
      return spectraAnswer(status, body, text, ctx, rules);
  }
}

function graphqlAnswer(status: number, body: unknown, text: string, ctx: AnswerContext, rules: AnswerRules): HubOutcome {
  const errors = isObject(body) && Array.isArray(body.errors) && body.errors.length > 0 ? body.errors : null;
  if (status === 200) {
    if (errors !== null) return graphqlErrors(errors, status, ctx);
    const data = isObject(body) && isObject(body.data) ? body.data : null;
    const result = data === null ? null : isObject(data.storeSensorMeasureData) ? data.storeSensorMeasureData : 'clientMutationId' in data ? data : null;
    if (result === null) return outsideContract(status, text, ctx, 'a 200 without data.storeSensorMeasureData');
    const echo = result.clientMutationId;
    if (typeof echo === 'string' && ctx.batchId !== undefined && echo !== ctx.batchId) {
      return outsideContract(status, text, ctx, `an answer for another mutation (clientMutationId ${clip(echo)}, sent ${ctx.batchId})`);
    }
    return { kind: 'ok', status, body };
  }
  // Some GraphQL servers answer a refused document or variables with 400/422 and the errors.
  if ((status === 400 || status === 422) && errors !== null) return graphqlErrors(errors, status, ctx);
  if (status === 409 && rules.conflictMeansStored) return { kind: 'conflict', status, body };
  return outsideContract(status, text, ctx, undefined, status < 300 ? '200 with data.storeSensorMeasureData' : undefined);
}

function sensorAnswer(status: number, body: unknown, text: string, ctx: AnswerContext, rules: AnswerRules): HubOutcome {
  const hasId = isObject(body) && typeof body.id === 'string' && body.id.length > 0;
  if (rules.sensorCreated.includes(status)) return hasId ? { kind: 'ok', status, body } : outsideContract(status, text, ctx, `a ${status} without the sensor's id`);
  if (status === 409) return hasId ? { kind: 'conflict', status, body } : outsideContract(status, text, ctx, "a 409 without the existing sensor's id");
  if ((status === 400 || status === 422) && isObject(body)) return { kind: 'rejected', status, reason: describe(body, text, status) };
  return outsideContract(status, text, ctx, undefined, status < 300 ? `${rules.sensorCreated.join(' or ')} with the sensor's id (hub.answers.sensor_created)` : undefined);
}

function spectraAnswer(status: number, body: unknown, text: string, ctx: AnswerContext, rules: AnswerRules): HubOutcome {
  if (rules.spectraAccepted.includes(status)) return { kind: 'ok', status, body };
  if (status === 409 && rules.conflictMeansStored) return { kind: 'conflict', status, body };
  if ((status === 400 || status === 422) && isObject(body)) return { kind: 'rejected', status, reason: describe(body, text, status) };
  return outsideContract(status, text, ctx, undefined, status < 300 ? `${rules.spectraAccepted.join(' or ')} (hub.answers.spectra_accepted)` : undefined);
}

function graphqlErrors(errors: unknown[], status: number, ctx: AnswerContext): HubOutcome {
  const codes = errors.map((e) => (isObject(e) && isObject(e.extensions) ? e.extensions.code : undefined));
  const messages = errors.map((e) => clip(String((isObject(e) ? e.message : undefined) ?? 'unknown error'))).join('; ');
  if (codes.includes('UNAUTHENTICATED')) return { kind: 'unauthorized', status, reason: messages };
  if (codes.includes('FORBIDDEN')) return { kind: 'forbidden', status, reason: messages };
  // The readings are at fault: a split isolates them. (BAD_REQUEST is the request as a whole,
  // a body a proxy mangled, a content type: no reading's fault, so it is not split.)
  if (codes.includes('BAD_USER_INPUT')) return { kind: 'rejected', status, reason: messages };
  if (codes.includes('BAD_REQUEST')) return retryable('unexpected', status, `the hub at ${ctx.path} refused the request as a whole (is a proxy changing it?): ${messages}`);
  // The mutation document itself is refused: every batch would be, so it is no reading's fault.
  if (codes.includes('GRAPHQL_VALIDATION_FAILED') || codes.includes('GRAPHQL_PARSE_FAILED')) {
    return retryable('unexpected', status, `the hub at ${ctx.path} does not accept the storeSensorMeasureData mutation: ${messages}`);
  }
  // An error we cannot classify may be the server's own fault: keep the data and retry.
  return retryable('server', status, `GraphQL error: ${messages}`);
}

/** An answer the contract does not describe: it says nothing about the readings, so nothing is decided from it. */
function outsideContract(status: number, text: string, ctx: AnswerContext, what?: string, expected?: string): HubOutcome {
  const head = bodyHead(text);
  const hint =
    status === 404 || status === 405 || status === 410 || (status >= 300 && status < 400)
      ? ': check hub.url and hub.paths'
      : expected !== undefined
        ? ` where the contract says ${expected}`
        : what === undefined
          ? ': a status outside the hub contract'
          : ' (is a proxy answering for the hub?)';
  return retryable('unexpected', status, `the hub answered ${what ?? status} at ${ctx.path}${hint}; body: ${head}`);
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
  const detail = isObject(body) && typeof body.message === 'string' ? body.message : isObject(body) && typeof body.error === 'string' ? body.error : bodyHead(text, '');
  return detail.length > 0 ? `HTTP ${status}: ${clip(detail)}` : `HTTP ${status}`;
}

/** The first bytes of a body for a log line: control characters escaped, white space folded. */
export function bodyHead(text: string, empty = '(empty)'): string {
  if (text.length === 0) return empty;
  const folded = text.slice(0, 400).replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return JSON.stringify(clip(folded, 200));
}

function clip(s: string, max = 300): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
