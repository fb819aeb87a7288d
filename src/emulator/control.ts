/**
 * Control endpoints under /_emulator/ for tests that run the emulator as a child process.
 * They are not part of the hub API: no authentication (the emulator binds 127.0.0.1), never
 * rate-limited or faulted, and not recorded in the request log, so polling a snapshot does not
 * change what it reports.
 *
 *   GET  /_emulator/snapshot[?since=SEQ][&summary=1]  store snapshot
 *   POST /_emulator/tokens   { permissions: string[] | "write,create", expiresIn?: ms | "15m" | null, expiresAt?: RFC 3339 }
 *   POST /_emulator/revoke   { token }
 *   GET  /_emulator/faults   queued faults and the rate limit
 *   POST /_emulator/faults   a FaultSpec | { rateLimit: RateLimitSpec | null } | { clear: true }
 *   POST /_emulator/reset    forget sensors, data, counters and the request log
 */
import { parsePermissionList } from '../auth/permissions.js';
import { parseDuration } from './duration.js';
import { parseFaultSpec, parseRateLimitSpec, type FaultPlan } from './faults.js';
import { parseJson, restError, type Reply } from './http.js';
import type { EmulatorStore } from './store.js';
import { checkTimestamp } from './timestamp.js';
import type { MintOptions, TokenAuthority } from './tokens.js';

export interface ControlDeps {
  store: EmulatorStore;
  faults: FaultPlan;
  tokens: TokenAuthority;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(message: string): Reply {
  return restError(400, 'bad_request', message);
}

function faultState(faults: FaultPlan): Reply {
  return { status: 200, body: { pending: faults.pending, rateLimit: faults.rateLimit } };
}

/** Reads `permissions` given as an array of names or a comma list; short names (write, create) expand. */
export function readPermissions(raw: unknown): string[] | null {
  if (typeof raw === 'string') return parsePermissionList(raw);
  if (Array.isArray(raw) && raw.every((p) => typeof p === 'string')) return raw.flatMap((p: string) => parsePermissionList(p));
  return null;
}

function readMintOptions(body: Obj): MintOptions | string {
  const permissions = readPermissions(body.permissions);
  if (!permissions) return 'permissions: must be an array of names or a comma-separated string';
  const opts: MintOptions = { permissions };
  if (body.expiresIn !== undefined && body.expiresIn !== null) {
    if (typeof body.expiresIn === 'number' && Number.isFinite(body.expiresIn)) opts.expiresIn = body.expiresIn;
    else if (typeof body.expiresIn === 'string') {
      try {
        opts.expiresIn = parseDuration(body.expiresIn);
      } catch (err) {
        return `expiresIn: ${(err as Error).message}`;
      }
    } else return 'expiresIn: must be milliseconds, a duration like "15m", or null';
  }
  if (body.expiresAt !== undefined) {
    const ts = checkTimestamp(body.expiresAt);
    if (!ts.ok) return `expiresAt: ${ts.reason}`;
    opts.expiresAt = new Date(ts.epochMs);
  }
  return opts;
}

export async function handleControl(deps: ControlDeps, method: string, url: URL, body: Buffer): Promise<Reply> {
  const route = url.pathname.slice('/_emulator/'.length);
  const allow = (methods: string): Reply => restError(405, 'method_not_allowed', `use ${methods}`, { allow: methods });

  if (route === 'snapshot') {
    if (method !== 'GET') return allow('GET');
    const sinceRaw = url.searchParams.get('since');
    const since = sinceRaw === null ? undefined : Number(sinceRaw);
    if (since !== undefined && !Number.isInteger(since)) return bad('since: must be an integer request sequence number');
    const summaryRaw = url.searchParams.get('summary');
    const summary = summaryRaw !== null && summaryRaw !== '0' && summaryRaw !== 'false';
    return { status: 200, body: deps.store.snapshot({ ...(since !== undefined ? { since } : {}), summary }) };
  }
  if (route === 'faults' && method === 'GET') return faultState(deps.faults);
  if (route === 'reset') {
    if (method !== 'POST') return allow('POST');
    deps.store.reset();
    return { status: 200, body: { reset: true } };
  }
  if (route !== 'tokens' && route !== 'revoke' && route !== 'faults') return restError(404, 'not_found', `no control endpoint /_emulator/${route}`);
  if (method !== 'POST') return allow(route === 'faults' ? 'GET, POST' : 'POST');

  const json = parseJson(body);
  if (!json.ok) return bad(json.message);
  if (!isObject(json.value)) return bad('body: must be a JSON object');
  const b = json.value;

  if (route === 'tokens') {
    const opts = readMintOptions(b);
    if (typeof opts === 'string') return bad(opts);
    return { status: 200, body: { token: await deps.tokens.mint(opts) } };
  }
  if (route === 'revoke') {
    if (typeof b.token !== 'string' || b.token.length === 0) return bad('token: must be a string');
    deps.tokens.revoke(b.token);
    return { status: 200, body: { revoked: true } };
  }
  // faults
  if (b.clear === true) {
    deps.faults.clear();
    return faultState(deps.faults);
  }
  if ('rateLimit' in b) {
    if (b.rateLimit === null) deps.faults.setRateLimit(null);
    else {
      const rl = parseRateLimitSpec(b.rateLimit);
      if (!rl.ok) return bad(rl.errors.join('; '));
      deps.faults.setRateLimit(rl.value);
    }
    return faultState(deps.faults);
  }
  const f = parseFaultSpec(b);
  if (!f.ok) return bad(f.errors.join('; '));
  deps.faults.add(f.value);
  return faultState(deps.faults);
}
