/**
 * The container's HEALTHCHECK: `node dist/observability/healthcheck.js [URL]` exits 0 when the
 * agent's /healthz answers 200 within the timeout, 1 otherwise (slim images have no curl).
 * It probes liveness, not readiness: a paused delivery (hub down, token refused) is something
 * to alert on, not a reason for an orchestrator to restart a process that is keeping data safe.
 * URL: the argument, else SENSEYE_HEALTHCHECK_URL, else /healthz on the default http.listen.
 */
import { get } from 'node:http';
import { pathToFileURL } from 'node:url';
import { DEFAULT_HTTP_LISTEN } from '../config/ops-schema.js';

export const DEFAULT_HEALTHCHECK_URL = `http://${DEFAULT_HTTP_LISTEN}/healthz`;

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
  const url = process.argv[2] ?? process.env.SENSEYE_HEALTHCHECK_URL ?? DEFAULT_HEALTHCHECK_URL;
  const result = await probe(url);
  process.stdout.write(`${result.detail}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
