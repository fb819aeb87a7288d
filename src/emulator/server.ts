/**
 * The hub emulator's HTTP server (node:http, 127.0.0.1, ephemeral port by default), or HTTPS
 * (node:https) when given a certificate and key; with a client CA as well, it requires client
 * certificates that chain to it (mutual TLS) and refuses the handshake otherwise.
 *
 * Order of work for a hub request, and why:
 *   1. route and method (404 / 405);
 *   2. body, bounded by maxBodyBytes (413 with Connection: close);
 *   3. injected faults and the rate limit, so a throttled or failed request stores nothing;
 *   4. bearer token (401), then the endpoint handler, which checks permissions and input and
 *      stores all or nothing in one synchronous step;
 *   5. `phase: 'after'` faults (answer lost after storing), then latencyMs, then the answer.
 * Every hub request, whatever its fate, gets one request-log entry with a fingerprint of its
 * token, never the token. close() aborts pending delays and drops open sockets, so it is prompt.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PERMISSION } from '../auth/permissions.js';
import type { HubConfig, HubHandler, HubReply, ResponseShape } from './context.js';
import { handleControl } from './control.js';
import { faultReply, peek, throttleReply, unauthorizedReply } from './answers.js';
import { describeFault, FaultPlan, type ActiveFault, type HubEndpoint } from './faults.js';
import { header, parseJson, readBody, restError, send, type JsonParse } from './http.js';
import { handleGraphql } from './routes/graphql.js';
import { handleCreateSensor } from './routes/sensors.js';
import { handleSpectra } from './routes/spectra.js';
import { EmulatorStore } from './store.js';
import type { RecordMode, RequestLogEntry } from './store-types.js';
import { TokenAuthority, tokenFingerprint, type MintOptions } from './tokens.js';
import { UserAuthority, type EmulatorUser } from './users.js';

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Permissions of the default token; default [Internal Hub Write, Internal Hub Create]. */
  permissions?: string[];
  /** Milliseconds until the default token expires; null = permanent (no exp claim). Default null. */
  expiresIn?: number | null;
  /** Bodies above this answer 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** GraphQL success shape: standard `{data:{storeSensorMeasureData:{clientMutationId}}}` (default) or documented `{data:{clientMutationId}}`. */
  responseShape?: ResponseShape;
  /** 'full' keeps every accepted data point (default); 'count' keeps counters only. */
  record?: RecordMode;
  /** Permissions needed in addition to Internal Hub Write to address by mappingId. Default External ID Read + Write. */
  mappingIdPermissions?: string[];
  /** Users for the OAuth password grant (POST /oauth/token); their JWTs are accepted like machine tokens. */
  users?: EmulatorUser[];
  /** Lifetime of user access tokens (expires_in), seconds. Default 3600. */
  userTokenTtlSeconds?: number;
  /** Test seam: refuse data points this returns a message for (BAD_USER_INPUT). In-process only. */
  rejectPoint?: HubConfig['rejectPoint'];
  /** Added before every hub answer. Default 0. */
  latencyMs?: number;
  /** Request-log entries kept; default unlimited in 'full' mode, 10,000 in 'count' mode. */
  requestLogLimit?: number;
  /** Serve /_emulator/ control endpoints. Default true. */
  controlEndpoints?: boolean;
  /** Called once per hub request after it was answered (or reset). */
  onRequest?: (entry: RequestLogEntry) => void;
  /** Serve HTTPS with this PEM certificate and key; with clientCa, require client certificates that chain to it. */
  tls?: EmulatorTls;
}

export interface EmulatorTls {
  cert: string | Buffer;
  key: string | Buffer;
  clientCa?: string | Buffer | undefined;
}

export interface HubEmulator {
  /** http://127.0.0.1:PORT (https:// with opts.tls) */
  url: string;
  /** The default token. */
  token: string;
  /** k4.public PASERK of the signing key, so the agent can verify token signatures. */
  publicKeyPaserk: string;
  mintToken(opts: MintOptions): Promise<string>;
  revoke(token: string): void;
  store: EmulatorStore;
  faults: FaultPlan;
  /** Closes the server and every open socket; idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const ROUTES = new Map<string, { endpoint: HubEndpoint; handler: HubHandler }>([
  ['/oauth/token', { endpoint: 'oauth', handler: () => ({ status: 500, body: {} }) }],
  ['/v1/hub/sensors', { endpoint: 'sensors', handler: handleCreateSensor }],
  ['/v1/graphql', { endpoint: 'graphql', handler: handleGraphql }],
  ['/v1/hub/spectra', { endpoint: 'spectra', handler: handleSpectra }],
]);

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export async function createHubEmulator(opts: EmulatorOptions = {}): Promise<HubEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const latencyMs = opts.latencyMs ?? 0;
  const controlEnabled = opts.controlEndpoints ?? true;
  const config: HubConfig = {
    responseShape: opts.responseShape ?? 'standard',
    mappingIdPermissions: opts.mappingIdPermissions ?? [PERMISSION.externalIdRead, PERMISSION.externalIdWrite],
    rejectPoint: opts.rejectPoint,
  };
  const tokens = await TokenAuthority.create();
  const users = new UserAuthority(opts.users ?? [], opts.userTokenTtlSeconds ?? 3600);
  const store = new EmulatorStore({
    record: opts.record ?? 'full',
    ...(opts.requestLogLimit !== undefined ? { requestLogLimit: opts.requestLogLimit } : {}),
  });
  const faults = new FaultPlan();
  const token = await tokens.mint({
    permissions: opts.permissions ?? [PERMISSION.hubWrite, PERMISSION.hubCreate],
    expiresIn: opts.expiresIn ?? null,
  });
  const closing = new AbortController();

  /** Waits, unless the emulator is closing; returns false if it is. */
  const wait = async (ms: number): Promise<boolean> => {
    if (ms <= 0) return !closing.signal.aborted;
    try {
      await sleep(ms, undefined, { signal: closing.signal });
      return true;
    } catch {
      return false;
    }
  };

  async function serveControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req, maxBodyBytes);
    if (body.kind === 'aborted') return;
    if (body.kind === 'too-large') {
      send(res, restError(413, 'payload_too_large', `body exceeds ${maxBodyBytes} bytes`, { connection: 'close' }));
      return;
    }
    try {
      send(res, await handleControl({ store, faults, tokens }, req.method ?? 'GET', url, body.body));
    } catch (err) {
      send(res, restError(500, 'internal_error', (err as Error).message));
    }
  }

  async function serveHub(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const authorization = header(req, 'authorization');
    const bearer = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    const entry: RequestLogEntry = {
      seq: store.nextSeq(),
      method,
      path: url.pathname,
      status: 0,
      receivedAt: Date.now(),
      finishedAt: 0,
      clientMutationId: null,
      idempotencyKey: header(req, 'idempotency-key'),
      pointCount: null,
      authFingerprint: authorization ? tokenFingerprint(bearer ?? authorization) : null,
      contentType: header(req, 'content-type'),
      errorCode: null,
      fault: null,
    };
    const finish = (status: number, errorCode: string | null): void => {
      entry.status = status;
      entry.errorCode = errorCode;
      entry.finishedAt = Date.now();
      store.logRequest(entry);
      opts.onRequest?.(entry);
    };
    const reset = (): void => {
      req.socket.destroy();
      finish(0, 'reset');
    };

    const route = ROUTES.get(url.pathname);
    let reply: HubReply | undefined;
    let after: ActiveFault | undefined;
    if (!route) reply = { ...restError(404, 'not_found', `no hub endpoint ${url.pathname}`), errorCode: 'not_found' };
    else if (method !== 'POST') {
      reply = { ...restError(405, 'method_not_allowed', `${url.pathname} accepts POST only`, { allow: 'POST' }), errorCode: 'method_not_allowed' };
    } else {
      const body = await readBody(req, maxBodyBytes);
      if (body.kind === 'aborted') return finish(0, 'client_aborted');
      if (body.kind === 'too-large') {
        reply = {
          ...restError(413, 'payload_too_large', `request body exceeds ${maxBodyBytes} bytes`, { connection: 'close' }),
          errorCode: 'payload_too_large',
        };
      } else {
        const json = route.endpoint === 'oauth' ? ({ ok: false, message: 'form body' } as JsonParse) : parseJson(body.body);
        if (route.endpoint !== 'oauth') Object.assign(entry, peek(route.endpoint, json));
        const outcome = await handle(route.endpoint, route.handler, json, authorization, entry, body.body.toString('utf8'));
        if (!outcome.reply) return reset();
        reply = outcome.reply;
        after = outcome.after;
      }
    }
    if (after) {
      if (after.delayMs !== undefined && !(await wait(after.delayMs))) return reset();
      if (after.reset) return reset();
      if (after.status !== undefined) reply = faultReply(after, route?.endpoint ?? 'graphql');
    }
    if (latencyMs > 0 && !(await wait(latencyMs))) return reset();
    send(res, reply);
    finish(reply.status, reply.errorCode ?? null);
  }

  /**
   * Faults, rate limit, auth, handler. No reply means: reset the socket. `after` is a fault to
   * apply once the handler has run.
   */
  async function handle(
    endpoint: HubEndpoint,
    handler: HubHandler,
    json: JsonParse,
    authorization: string | null,
    entry: RequestLogEntry,
    rawBody: string,
  ): Promise<{ reply?: HubReply; after?: ActiveFault }> {
    const fault = faults.take(endpoint, rawBody);
    let after: ActiveFault | undefined;
    if (fault) {
      store.counters.faultsInjected += 1;
      entry.fault = describeFault(fault);
      if (fault.phase === 'after') after = fault;
      else {
        if (fault.delayMs !== undefined && !(await wait(fault.delayMs))) return {};
        if (fault.reset) return {};
        if (fault.status !== undefined) return { reply: faultReply(fault, endpoint) };
      }
    }
    let reply: HubReply;
    const throttle = faults.throttle(endpoint);
    if (throttle) {
      store.counters.rateLimited += 1;
      entry.fault = entry.fault ? `${entry.fault},rate-limit` : 'rate-limit';
      reply = throttleReply(throttle);
    } else if (endpoint === 'oauth') {
      reply = users.grant(rawBody);
    } else {
      reply = await authorizeAndRun(handler, json, authorization, entry);
    }
    return after ? { reply, after } : { reply };
  }

  async function authorizeAndRun(
    handler: HubHandler,
    json: JsonParse,
    authorization: string | null,
    entry: RequestLogEntry,
  ): Promise<HubReply> {
    if (!authorization) return unauthorizedReply('missing Authorization header; expected "Bearer <machine token>"');
    const bearer = BEARER.exec(authorization)?.[1];
    if (!bearer) return unauthorizedReply('malformed Authorization header; expected "Bearer <machine token>"');
    const auth = UserAuthority.looksLikeJwt(bearer) ? users.authenticate(bearer) : await tokens.authenticate(bearer);
    if (!auth.ok) return unauthorizedReply(`token rejected (${auth.reason}): ${auth.message}`);
    try {
      return handler({ seq: entry.seq, json, idempotencyKey: entry.idempotencyKey, permissions: auth.permissions, store, config });
    } catch (err) {
      // A bug in the emulator, not the client's fault: say so loudly rather than storing half.
      return { ...restError(500, 'internal_error', err instanceof Error ? err.message : String(err)), errorCode: 'internal_error' };
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const work = controlEnabled && url.pathname.startsWith('/_emulator/') ? serveControl(req, res, url) : serveHub(req, res, url);
    work.catch((err: unknown) => {
      send(res, restError(500, 'internal_error', err instanceof Error ? err.message : String(err)));
    });
  };
  const tls = opts.tls;
  const server =
    tls === undefined
      ? createServer(listener)
      : createHttpsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
          },
          listener,
        );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    token,
    publicKeyPaserk: tokens.publicKeyPaserk,
    mintToken: (o) => tokens.mint(o),
    revoke: (t) => tokens.revoke(t),
    store,
    faults,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
