/**
 * The container's HEALTHCHECK: `node dist/observability/healthcheck.js [URL]` exits 0 when the
 * agent's /healthz answers 200 within the timeout, 1 otherwise (slim images have no curl).
 * It probes liveness, not readiness: a paused delivery (hub down, token refused) is something
 * to alert on, not a reason for an orchestrator to restart a process that is keeping data safe.
 *
 * Where it probes, first found wins: the URL argument; SENSEYE_HEALTHCHECK_URL; `http.listen`
 * of the agent's config file (SENSEYE_CONFIG, else the path the image's CMD runs with,
 * INSTALL_PATHS.configFile); the default http.listen. So a config that moves the endpoint needs
 * no second setting. The config is read tolerantly: only `http.listen`, with `${VAR}` replaced;
 * a file it cannot read or parse falls back to the default (the agent itself reports bad
 * configs). A wildcard listen address is probed on loopback (0.0.0.0 → 127.0.0.1, :: → [::1]);
 * `http.listen: null` (endpoint off) passes: there is nothing to probe, and failing would make
 * the orchestrator restart a healthy agent forever.
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { substituteEnv } from '../config/env.js';
import { DEFAULT_HTTP_LISTEN, INSTALL_PATHS } from '../config/ops-schema.js';
import { parseListen } from '../config/listen-address.js';

export const DEFAULT_HEALTHCHECK_URL = `http://${DEFAULT_HTTP_LISTEN}/healthz`;
/** The config the image's CMD runs with (test/unit/container-files.test.ts ties the two). */
export const DEFAULT_HEALTHCHECK_CONFIG = INSTALL_PATHS.configFile;

export type HealthcheckTarget = { url: string; from: string } | { url: null; from: string };

/** Where to probe (url null: the endpoint is turned off in the config). Reads the config file only if needed. */
export function healthcheckTarget(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): HealthcheckTarget {
  if (argv[0] !== undefined) return { url: argv[0], from: 'argument' };
  if (env.SENSEYE_HEALTHCHECK_URL) return { url: env.SENSEYE_HEALTHCHECK_URL, from: 'SENSEYE_HEALTHCHECK_URL' };
  const file = env.SENSEYE_CONFIG || DEFAULT_HEALTHCHECK_CONFIG;
  const listen = listenOf(file, env, readFile);
  if (listen === null) return { url: null, from: `http.listen: null in ${file}` };
  if (listen === undefined) return { url: DEFAULT_HEALTHCHECK_URL, from: 'default' };
  const address = parseListen(listen);
  if (typeof address === 'string') return { url: DEFAULT_HEALTHCHECK_URL, from: 'default' };
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/healthz`, from: `http.listen in ${file}` };
}

/** `http.listen` of the config: a string, null (off), or undefined (not set, or the file unusable). */
function listenOf(file: string, env: NodeJS.ProcessEnv, readFile: (file: string) => string): string | null | undefined {
  try {
    const doc = parse(readFile(file)) as { http?: { listen?: unknown } } | null;
    const http = doc?.http;
    if (http === null || typeof http !== 'object' || !('listen' in http)) return undefined;
    const raw = http.listen;
    if (raw === null) return null;
    if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
    const { value, missing } = substituteEnv(String(raw), env);
    return missing.length > 0 ? undefined : (value as string);
  } catch {
    return undefined;
  }
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export function probe(url: string, timeoutMs = 3000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    try {
      const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        finish({ ok: status === 200, detail: `${url} answered ${status}` });
      });
      req.on('timeout', () => {
        req.destroy();
        finish({ ok: false, detail: `${url} did not answer within ${timeoutMs} ms` });
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, detail: `${url}: ${err.code ?? err.message}` }));
    } catch (err) {
      finish({ ok: false, detail: `${url}: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
}

async function main(): Promise<void> {
  const target = healthcheckTarget(process.argv.slice(2), process.env);
  if (target.url === null) {
    process.stdout.write(`the health endpoint is off (${target.from}): nothing to probe\n`);
    process.exitCode = 0;
    return;
  }
  const result = await probe(target.url);
  process.stdout.write(target.from === 'argument' ? `${result.detail}\n` : `${result.detail} (URL from ${target.from})\n`);
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
