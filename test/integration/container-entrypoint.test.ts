/**
 * What the container image runs, without a Docker engine: the image's entrypoint command
 * (`senseye-agent run --config FILE`) as an unprivileged user (nobody, via setpriv or runuser;
 * tests run as root) from an image-like /app that holds only the lockfile's production
 * dependencies (what `npm ci --omit=dev` installs), with every path read-only to that user
 * except the state directory, against the hub emulator on 127.0.0.1. A second run with the state
 * directory not writable must fail with the configuration exit code: proof that the user switch
 * took effect and that the first run needed no other writable place.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { ROOT, writeConfig } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';

const NOBODY = 65534;
const hasSetpriv = spawnSync('setpriv', ['--version']).error === undefined;
const hasRunuser = spawnSync('runuser', ['--version']).error === undefined;
const isRoot = process.getuid?.() === 0;

/** The command, run as nobody with no supplementary groups and no way to regain privileges. */
function asNobody(argv: string[]): string[] {
  if (hasSetpriv) return ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--no-new-privs', '--', ...argv];
  return ['runuser', '-u', 'nobody', '--', ...argv];
}

/** Package folders `npm ci --omit=dev` installs: the lockfile's entries not marked dev. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([p, meta]) => p.startsWith('node_modules/') && meta.dev !== true && meta.devOptional !== true)
    .map(([p]) => p);
}

/** /app as the image has it: bin, dist, package.json and production node_modules; all root-owned. */
function imageLikeApp(root: string): string {
  const app = path.join(root, 'app');
  mkdirSync(app);
  cpSync(path.join(ROOT, 'bin'), path.join(app, 'bin'), { recursive: true });
  cpSync(path.join(ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
  // Nested packages (a/node_modules/b) come with their parent; copy top-level folders only.
  const top = productionPackages().filter((p) => !p.slice('node_modules/'.length).includes('/node_modules/'));
  for (const pkg of top) {
    const target = path.join(app, pkg);
    mkdirSync(path.dirname(target), { recursive: true });
    // Hard links when on one filesystem (fast), a copy otherwise.
    const linked = spawnSync('cp', ['-al', path.join(ROOT, pkg), target]);
    if (linked.status !== 0) cpSync(path.join(ROOT, pkg), target, { recursive: true });
  }
  return app;
}

/** Files and folders under `dir` owned by `uid`. */
function ownedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (statSync(p).uid === uid) out.push(p);
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...ownedBy(p, uid));
  }
  return out;
}

function ownedByTopLevel(dir: string, uid: number): string[] {
  return readdirSync(dir)
    .filter((name) => {
      try {
        return statSync(path.join(dir, name)).uid === uid;
      } catch {
        return false; // removed meanwhile by another test
      }
    })
    .sort();
}

let hub: HubEmulator | null = null;
afterEach(async () => {
  await hub?.close();
  hub = null;
});

function run(app: string, config: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = asNobody([process.execPath, path.join(app, 'bin', 'senseye-agent'), 'run', '--config', config, '--exit-when-idle']);
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: app,
    env: { PATH: process.env.PATH, HOME: '/nonexistent', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('container entrypoint as a non-root user', () => {
  it('delivers everything with only the state directory writable, and fails clearly without it', async (ctx) => {
    ctx.skip(!hasSetpriv && !hasRunuser, 'neither setpriv nor runuser is installed (util-linux): cannot switch to an unprivileged user');
    ctx.skip(!isRoot, 'needs root to switch to the nobody user');
    hub = await createHubEmulator();

    const root = tempDir('senseye-image-');
    chmodSync(root, 0o755);
    const app = imageLikeApp(root);
    const etc = path.join(root, 'etc');
    const data = path.join(root, 'data');
    const secrets = path.join(root, 'secrets');
    const state = path.join(root, 'state');
    for (const d of [etc, data, secrets]) mkdirSync(d, { mode: 0o755 });
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, NOBODY, NOBODY);
    // The token as a secret: readable by the agent's user only (Docker mounts secrets read-only).
    const tokenFile = path.join(secrets, 'senseye-token');
    writeFileSync(tokenFile, `${hub.token}\n`, { mode: 0o400 });
    chownSync(tokenFile, NOBODY, NOBODY);
    chmodSync(secrets, 0o555);

    const expected = jsonlReadings(0, 300);
    writeFileSync(path.join(data, 'line-1.jsonl'), toJsonl(expected));
    const extra: Record<string, unknown> = {};
    // Once http.listen exists, keep this run off the default port other tests may use.
    if ('http' in configSchema.shape) extra.http = { listen: '127.0.0.1:0' };
    const config = writeConfig(path.join(etc, 'config.yaml'), {
      hubUrl: hub.url,
      stateDir: state,
      sources: [{ name: 'line', type: 'file', path: path.join(data, '*.jsonl'), format: 'jsonl' }],
      hub: { token_file: tokenFile },
      extra,
    });

    // /tmp is writable by everyone here but not in the image (read_only: true): it must stay unused.
    const tmpBefore = ownedByTopLevel(tmpdir(), NOBODY);
    const ok = await run(app, config);
    expect(ok.code, `${ok.stderr}\n${ok.stdout.slice(-2000)}`).toBe(EXIT.ok);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(expected.map(key)));
    // It wrote its state, and nothing anywhere else (everything else is root's and read-only to it).
    const written = ownedBy(root, NOBODY).map((p) => path.relative(root, p));
    expect(written).toContain('state/outbox.db');
    expect(written.filter((p) => p !== 'state' && !p.startsWith('state/') && p !== 'secrets/senseye-token')).toEqual([]);
    expect(ownedByTopLevel(tmpdir(), NOBODY)).toEqual(tmpBefore);

    // The same command with a state directory it cannot write: a clear configuration error.
    const locked = path.join(root, 'state-locked');
    mkdirSync(locked, { mode: 0o755 });
    const lockedConfig = writeConfig(path.join(etc, 'locked.yaml'), {
      hubUrl: hub.url,
      stateDir: locked,
      sources: [{ name: 'line', type: 'file', path: path.join(data, '*.jsonl'), format: 'jsonl' }],
      hub: { token_file: tokenFile },
      extra,
    });
    const refused = await run(app, lockedConfig);
    expect(refused.code).toBe(EXIT.config);
    // The first thing to open there is the lock (agent.lock), before the outbox.
    expect(refused.stderr).toMatch(/cannot open .*state-locked.*writable by the agent user/);
  });
});
