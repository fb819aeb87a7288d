/**
 * The container HEALTHCHECK finds the endpoint the way the agent does: from the config's
 * http.listen when neither an argument nor SENSEYE_HEALTHCHECK_URL says otherwise. Run as the
 * real script (dist/observability/healthcheck.js) against a real HTTP server on 127.0.0.1 with a
 * temporary config; the order and the address rules are checked on healthcheckTarget directly.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_HEALTHCHECK_CONFIG, DEFAULT_HEALTHCHECK_URL, healthcheckTarget } from '../../src/observability/healthcheck.js';
import { ROOT } from '../helpers/agent-process.js';
import { tempDir } from '../helpers/tmp.js';

const SCRIPT = path.join(ROOT, 'dist', 'observability', 'healthcheck.js');
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function healthz(): Promise<number> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404).end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 }, (err, stdout) =>
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout }),
    );
  });
}

function config(text: string): string {
  const file = path.join(tempDir(), 'config.yaml');
  writeFileSync(file, text);
  return file;
}

describe('healthcheck script with the config', () => {
  it("probes the config's http.listen (0.0.0.0 on 127.0.0.1), and passes when the endpoint is off", async () => {
    const port = await healthz();
    const file = config(`hub:\n  url: https://hub.invalid\nhttp:\n  listen: 0.0.0.0:${port}\n`);
    const up = await run([], { SENSEYE_CONFIG: file });
    expect(up).toEqual({ status: 0, stdout: `http://127.0.0.1:${port}/healthz answered 200 (URL from http.listen in ${file})\n` });

    // A port nothing listens on: the probe fails.
    const down = await run([], { SENSEYE_CONFIG: config('http:\n  listen: 127.0.0.1:1\n') });
    expect(down.status).toBe(1);
    expect(down.stdout).toContain('http://127.0.0.1:1/healthz: ECONNREFUSED');

    const off = config('http:\n  listen: null\n');
    expect(await run([], { SENSEYE_CONFIG: off })).toEqual({ status: 0, stdout: `the health endpoint is off (http.listen: null in ${off}): nothing to probe\n` });
  });

  it('prefers the argument, then SENSEYE_HEALTHCHECK_URL, over the config', async () => {
    const port = await healthz();
    const wrong = config('http:\n  listen: 127.0.0.1:1\n');
    expect((await run([`http://127.0.0.1:${port}/healthz`], { SENSEYE_CONFIG: wrong, SENSEYE_HEALTHCHECK_URL: 'http://127.0.0.1:1/healthz' })).status).toBe(0);
    expect((await run([], { SENSEYE_CONFIG: wrong, SENSEYE_HEALTHCHECK_URL: `http://127.0.0.1:${port}/healthz` })).status).toBe(0);
  });
});

describe('healthcheckTarget', () => {
  const files: Record<string, string> = {};
  const read = (file: string) => {
    const text = files[file];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return text;
  };

  it('reads the default config path (the one the image runs with) when SENSEYE_CONFIG is not set', () => {
    files[DEFAULT_HEALTHCHECK_CONFIG] = 'http:\n  listen: "[::]:9500"\n';
    expect(healthcheckTarget([], {}, read)).toEqual({ url: 'http://[::1]:9500/healthz', from: `http.listen in ${DEFAULT_HEALTHCHECK_CONFIG}` });
    delete files[DEFAULT_HEALTHCHECK_CONFIG];
    expect(healthcheckTarget([], {}, read)).toEqual({ url: DEFAULT_HEALTHCHECK_URL, from: 'default' });
  });

  it('replaces ${VAR} in http.listen, keeps a specific address, and falls back to the default on anything it cannot use', () => {
    files['/c/env.yaml'] = 'http:\n  listen: ${METRICS_LISTEN:-0.0.0.0:9600}\n';
    expect(healthcheckTarget([], { SENSEYE_CONFIG: '/c/env.yaml' }, read).url).toBe('http://127.0.0.1:9600/healthz');
    expect(healthcheckTarget([], { SENSEYE_CONFIG: '/c/env.yaml', METRICS_LISTEN: '10.1.2.3:9700' }, read).url).toBe('http://10.1.2.3:9700/healthz');
    files['/c/unset.yaml'] = 'http:\n  listen: ${NOT_SET}\n';
    files['/c/broken.yaml'] = 'http: [unclosed\n';
    files['/c/no-http.yaml'] = 'hub:\n  url: https://hub.invalid\n';
    files['/c/not-an-address.yaml'] = 'http:\n  listen: localhost\n';
    files['/c/empty.yaml'] = '';
    for (const file of ['/c/unset.yaml', '/c/broken.yaml', '/c/no-http.yaml', '/c/not-an-address.yaml', '/c/empty.yaml', '/c/missing.yaml']) {
      expect(healthcheckTarget([], { SENSEYE_CONFIG: file }, read), file).toEqual({ url: DEFAULT_HEALTHCHECK_URL, from: 'default' });
    }
  });
});
