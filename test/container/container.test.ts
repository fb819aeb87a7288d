/**
 * The image, built and run for real (issue 18): scripts/container/build-image.sh builds it on a
 * Docker engine (started here when none runs, and stopped afterwards) from the cached stand-in
 * for node:20-bookworm-slim, then containers run it against the hub emulator in this process on
 * the host network, the way factory servers run it: non-root, read-only root filesystem, no
 * capabilities, config and token mounted, the outbox on a named volume. Where no engine can
 * start, every test says why and skips. The first build takes minutes (the base image and
 * better-sqlite3's compile); later runs reuse the cached base and Docker's build cache.
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EXIT } from '../../src/cli/exit-codes.js';
import { INSTALL_PATHS } from '../../src/config/ops-schema.js';
import { CREDENTIAL_NAME, DOCKER_SECRET_PATH } from '../../src/auth/token-sources.js';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { ROOT, writeConfig } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { buildImage, CANNOT_BUILD_HERE, Docker, freePort, startEngine, stopEngine, type Engine } from './docker.js';

const IMAGE = 'senseye-agent:test';
const UID = 10001;
const LABEL = `senseye-agent-test=${process.pid}`;
const PREFIX = `senseye-test-${process.pid}`;

let engine: Engine | undefined;
let docker: Docker;
let skipReason: string | undefined;
let hub: HubEmulator | undefined;

beforeAll(async () => {
  const found = await startEngine();
  if ('skip' in found) {
    skipReason = `no Docker engine here: ${found.skip}`;
    console.warn(`container tests skipped: ${skipReason}`);
    return;
  }
  engine = found;
  docker = new Docker(engine, LABEL);
  const started = Date.now();
  const built = await buildImage(engine, IMAGE);
  if (built.code === CANNOT_BUILD_HERE) {
    skipReason = `the base image cannot be made here: ${built.stderr.trim().split('\n').at(-1)}`;
    console.warn(`container tests skipped: ${skipReason}`);
    return;
  }
  if (built.code !== 0) throw new Error(`build-image.sh exited ${built.code}:\n${built.stderr.slice(-6000)}`);
  console.log(`container image ${IMAGE} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 30 * 60_000);

afterEach(async () => {
  if (engine !== undefined) await docker.removeAll();
  await hub?.close();
  hub = undefined;
});

afterAll(async () => {
  if (engine !== undefined) await stopEngine(engine);
}, 90_000);

function skipUnlessEngine(ctx: TestContext): void {
  ctx.skip(skipReason !== undefined, skipReason);
}

interface Setup {
  dir: string;
  config: string;
  token: string;
  input: string;
  port: number;
}

/** A config (hub: the emulator, health endpoint on a free host port), the token as a secret file, an input folder. */
async function setup(theHub: HubEmulator, hubOptions: Record<string, unknown> = {}): Promise<Setup> {
  const dir = tempDir('senseye-container-');
  chmodSync(dir, 0o755);
  const input = path.join(dir, 'input');
  mkdirSync(input, { mode: 0o755 });
  const port = await freePort();
  const config = writeConfig(path.join(dir, 'config.yaml'), {
    hubUrl: theHub.url,
    stateDir: INSTALL_PATHS.stateDir,
    sources: [{ name: 'line', type: 'file', path: '/data/input/*.jsonl', format: 'jsonl' }],
    hub: hubOptions,
    extra: { http: { listen: `127.0.0.1:${port}` }, shutdown_timeout: '10s' },
  });
  chmodSync(config, 0o644);
  const token = path.join(dir, 'senseye-token');
  secretFile(token, `${theHub.token}\n`);
  return { dir, config, token, input, port };
}

/** `docker run` options of a production container (README), plus the test's mounts. */
function runArgs(s: Setup, volume: string, name: string): string[] {
  return [
    '--name', `${PREFIX}-${name}`, '--label', LABEL, '--network', 'host',
    '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true', '--stop-timeout', '30',
    '-v', `${s.config}:${INSTALL_PATHS.configFile}:ro`, '-v', `${s.token}:${DOCKER_SECRET_PATH}:ro`,
    '-v', `${s.input}:/data/input:ro`, '-v', `${volume}:${INSTALL_PATHS.stateDir}`,
  ];
}

/** The outbox's state, read through the image itself (its better-sqlite3, as the agent's user): works on any engine. */
async function outboxState(volume: string): Promise<{ integrity: unknown; cleanShutdown: unknown; counters: Record<string, number> }> {
  const script = `
    const db = new (require('/app/node_modules/better-sqlite3'))('${INSTALL_PATHS.stateDir}/outbox.db', { readonly: true, fileMustExist: true });
    console.log(JSON.stringify({
      integrity: db.pragma('integrity_check', { simple: true }),
      cleanShutdown: db.prepare("SELECT value FROM state WHERE key = 'clean_shutdown'").pluck().get(),
      counters: Object.fromEntries(db.prepare('SELECT name, value FROM counters').all().map((r) => [r.name, r.value])),
    }));`;
  const out = await docker.ok(['run', '--rm', '--label', LABEL, '--network', 'none', '--read-only', '--cap-drop', 'ALL', '-v', `${volume}:${INSTALL_PATHS.stateDir}`, '--entrypoint', 'node', IMAGE, '-e', script]);
  return JSON.parse(out) as { integrity: unknown; cleanShutdown: unknown; counters: Record<string, number> };
}

/** A secret file as Docker mounts it (as it is on the host): readable by the agent's user only, when the test can chown. */
function secretFile(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o400 });
  if (process.getuid?.() === 0) chownSync(file, UID, UID);
  else chmodSync(file, 0o444); // a test token; a non-root test cannot give it to uid 10001
}

interface Inspected {
  Config: { User: string; Env: string[] };
  HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[] };
  State: { Status: string; Running: boolean; Restarting: boolean; ExitCode: number; Health?: { Status: string } };
  RestartCount: number;
}

describe('the container image', () => {
  it('runs non-root, read-only, without capabilities; delivers a mounted folder exactly once; turns healthy; stops cleanly within the grace period', async (ctx) => {
    skipUnlessEngine(ctx);
    hub = await createHubEmulator();
    const s = await setup(hub);
    const expected = jsonlReadings(0, 2000);
    writeFileSync(path.join(s.input, 'line-1.jsonl'), toJsonl(expected));
    const volume = await docker.volume(`${PREFIX}-state-1`);
    const name = `${PREFIX}-agent`;
    await docker.ok(['run', '-d', ...runArgs(s, volume, 'agent'), '--health-interval', '1s', IMAGE]);

    await waitFor(() => hub!.store.dataPoints.length >= expected.length, 'every reading delivered', { timeoutMs: 60_000 });
    expect(sorted(receivedKeys(hub))).toEqual(sorted(expected.map(key)));
    expect(hub.store.counters.overwrites).toBe(0);

    const info = await docker.inspect<Inspected>(name);
    expect(info.Config.User).toBe(`${UID}:${UID}`);
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    // The agent itself (pid 1): its user and its effective capabilities.
    const status = await docker.ok(['exec', name, 'cat', '/proc/1/status']);
    expect(status).toMatch(new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`, 'm'));
    expect(status).toMatch(/^CapEff:\s+0{16}$/m);
    expect(await docker.ok(['exec', name, 'cat', '/proc/1/cmdline'])).toContain('/app/bin/senseye-agent');
    const write = await docker.run(['exec', name, 'sh', '-c', 'touch /app/x || touch /tmp/x']);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);

    await waitFor(async () => (await docker.inspect<Inspected>(name)).State.Health?.Status === 'healthy', 'the HEALTHCHECK to pass', { timeoutMs: 30_000 });
    const ready = await fetch(`http://127.0.0.1:${s.port}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${s.port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^senseye_agent_info\{/m);

    const stopping = Date.now();
    await docker.ok(['stop', '--time', '30', name], 60_000);
    const tookMs = Date.now() - stopping;
    const stopped = await docker.inspect<Inspected>(name);
    expect(stopped.State.ExitCode).toBe(EXIT.ok);
    expect(tookMs).toBeLessThan(30_000);
    const logs = await docker.ok(['logs', name]);
    expect(logs).toContain('"event":"agent_stopped"');
    expect(logs).not.toContain(hub.token);
    const outbox = await outboxState(volume);
    expect(outbox.integrity).toBe('ok');
    expect(outbox.cleanShutdown).toBe('true');
    expect(outbox.counters.appended).toBe(expected.length);
    expect(outbox.counters.delivered).toBe(expected.length);
  }, 150_000);

  it('docker kill (SIGKILL) mid-delivery, then a new container on the same volume: nothing lost', async (ctx) => {
    skipUnlessEngine(ctx);
    hub = await createHubEmulator({ latencyMs: 40 });
    const s = await setup(hub, { batch: { max_points: 100, max_wait: '20ms' }, concurrency: 2 });
    const expected = jsonlReadings(0, 10_000);
    writeFileSync(path.join(s.input, 'line-1.jsonl'), toJsonl(expected));
    const volume = await docker.volume(`${PREFIX}-state-2`);
    await docker.ok(['run', '-d', ...runArgs(s, volume, 'first'), IMAGE]);
    await waitFor(() => hub!.store.dataPoints.length >= 1000, 'delivery under way', { timeoutMs: 60_000 });
    await docker.ok(['kill', `${PREFIX}-first`]);
    const killed = await docker.inspect<Inspected>(`${PREFIX}-first`);
    expect(killed.State.ExitCode).toBe(137);
    // The precondition: killed with readings still to deliver.
    expect(new Set(receivedKeys(hub)).size).toBeLessThan(expected.length);

    const second = await docker.run(['run', ...runArgs(s, volume, 'second'), IMAGE, 'run', '--config', INSTALL_PATHS.configFile, '--exit-when-idle'], 120_000);
    expect(second.code, second.stderr.slice(-3000)).toBe(EXIT.ok);
    expect(new Set(receivedKeys(hub))).toEqual(new Set(expected.map(key)));
  }, 180_000);

  it('a bad config exits 78; on-failure:N stops retrying after N, plain on-failure retries it (Docker has no exit-code exception)', async (ctx) => {
    skipUnlessEngine(ctx);
    hub = await createHubEmulator();
    const s = await setup(hub, { tokn_file: '/etc/senseye-agent/token' });
    const volume = await docker.volume(`${PREFIX}-state-3`);
    const bounded = `${PREFIX}-bounded`;
    await docker.ok(['run', '-d', '--restart', 'on-failure:2', ...runArgs(s, volume, 'bounded'), IMAGE]);
    const done = await waitFor(
      async () => {
        const i = await docker.inspect<Inspected>(bounded);
        return i.State.Status === 'exited' && !i.State.Restarting && i.RestartCount === 2 ? i : undefined;
      },
      'two restarts, then exited for good',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(done.State.ExitCode).toBe(EXIT.config);
    const logs = await docker.run(['logs', bounded]);
    expect(logs.stdout + logs.stderr).toMatch(/config\.yaml.*tokn_file/);

    // Plain on-failure restarts exit 78 like any other non-zero exit: the documented policy bounds it.
    const unbounded = `${PREFIX}-unbounded`;
    await docker.ok(['run', '-d', '--restart', 'on-failure', ...runArgs(s, volume, 'unbounded'), IMAGE]);
    await waitFor(async () => (await docker.inspect<Inspected>(unbounded)).RestartCount >= 2, 'on-failure to restart the exit-78 container', {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  }, 150_000);

  it('is small and holds the agent only: no compiler, no npm, no dev dependencies, nothing of the build CA', async (ctx) => {
    skipUnlessEngine(ctx);
    const image = JSON.parse(await docker.ok(['image', 'inspect', IMAGE])) as Array<{ Size: number; Config: { Env: string[] } }>;
    const mb = image[0]!.Size / 1e6;
    console.log(`image ${IMAGE}: ${mb.toFixed(0)} MB`);
    expect(mb).toBeLessThan(320);
    expect(image[0]!.Config.Env.join('\n')).not.toMatch(/CA_CERTS|cafile/i);

    const script = [
      'for t in gcc cc g++ c++ make python3 npm npx corepack yarn node-gyp; do command -v "$t" >/dev/null && echo "tool $t"; done',
      'ls -A /usr/local/lib/node_modules 2>/dev/null | sed "s/^/global /"',
      'ls -A /app | sed "s/^/app /"',
      'cd /app && find node_modules -name package.json | sed "s|^|pkg |; s|/package.json$||"',
      'ls -A /run/secrets 2>/dev/null | sed "s/^/secret /"',
    ].join('\n');
    const lines = (await docker.ok(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', IMAGE, '-c', script])).split('\n');
    const of = (kind: string) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
    expect(of('tool')).toEqual([]);
    expect(of('global')).toEqual([]);
    expect(of('secret')).toEqual([]);
    expect(of('app').sort()).toEqual(['bin', 'dist', 'node_modules', 'package.json']);

    // Every package is one the lockfile installs for production; no dev dependency at all.
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
    const production = new Set(Object.entries(lock.packages).filter(([p, m]) => p.startsWith('node_modules/') && m.dev !== true && m.devOptional !== true).map(([p]) => p));
    // Package folders: node_modules/[@scope/]name, nested under another package's node_modules too.
    const packageDir = /^node_modules\/(@[^/]+\/)?[^/@][^/]*(\/node_modules\/(@[^/]+\/)?[^/@][^/]*)*$/;
    const installed = of('pkg').filter((p) => packageDir.test(p));
    expect(installed.length).toBeGreaterThan(0);
    expect(installed.filter((p) => !production.has(p))).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(installed).toContain(`node_modules/${dep}`);
    // A dev dependency that a production package also needs (e.g. @types/node) is production in the lockfile.
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev === true);
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest', 'esbuild']));
    for (const dev of devOnly) expect(installed).not.toContain(`node_modules/${dev}`);
  }, 60_000);

  it('examples/compose: docker-compose brings up the emulator profile and the agent, which delivers and passes its health check; down removes it all', async (ctx) => {
    skipUnlessEngine(ctx);
    ctx.skip((await docker.compose('probe', ROOT, ['version'])).code !== 0, "docker-compose is not installed (Debian's docker-compose package)");
    const dir = tempDir('senseye-compose-');
    chmodSync(dir, 0o755);
    for (const f of ['compose.yaml', 'config.yaml']) {
      copyFileSync(path.join(ROOT, 'examples/compose', f), path.join(dir, f));
      chmodSync(path.join(dir, f), 0o644);
    }
    const compose = parseYaml(readFileSync(path.join(dir, 'compose.yaml'), 'utf8')) as { secrets: Record<string, { file: string }> };
    expect(Object.keys(compose.secrets)).toEqual([CREDENTIAL_NAME]);
    mkdirSync(path.join(dir, 'input'), { mode: 0o755 });
    const expected = jsonlReadings(0, 500);
    writeFileSync(path.join(dir, 'input', 'line-1.jsonl'), toJsonl(expected));
    const emulatorPort = await freePort();
    const hubUrl = `http://127.0.0.1:${emulatorPort}`;
    const healthPort = await freePort();
    const env = { SENSEYE_IMAGE: IMAGE, SENSEYE_EMULATOR_PORT: String(emulatorPort), SENSEYE_HUB_URL: hubUrl, SENSEYE_HTTP_LISTEN: `127.0.0.1:${healthPort}` };
    const project = `${PREFIX}-compose`;
    const up = async (args: string[]) => {
      const r = await docker.compose(project, dir, args, env);
      expect(r.code, r.stderr).toBe(0);
    };
    try {
      await up(['--profile', 'emulator', 'up', '-d', 'emulator']);
      // The token, minted by the emulator's control endpoint as compose.yaml describes.
      const minted = await waitFor(
        async () => {
          try {
            const res = await fetch(`${hubUrl}/_emulator/tokens`, { method: 'POST', body: JSON.stringify({ permissions: 'write,create' }) });
            return res.status === 200 ? ((await res.json()) as { token: string }) : undefined;
          } catch {
            return undefined; // not listening yet
          }
        },
        'the emulator container to answer',
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const secret = path.join(dir, compose.secrets[CREDENTIAL_NAME]!.file);
      secretFile(secret, `${minted.token}\n`);
      await up(['up', '-d', 'senseye-agent']);
      const summary = async () => (await (await fetch(`${hubUrl}/_emulator/snapshot?summary=1`)).json()) as { counters: { datapointsAccepted: number; overwrites: number } };
      await waitFor(async () => (await summary()).counters.datapointsAccepted >= expected.length, 'the compose agent to deliver', { timeoutMs: 60_000, intervalMs: 250 });
      expect((await summary()).counters).toMatchObject({ datapointsAccepted: expected.length, overwrites: 0 });
      expect((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status).toBe(200);
      // The agent's own health check, run as compose.yaml spells it out.
      const probe = await docker.compose(project, dir, ['exec', '-T', 'senseye-agent', 'node', '/app/dist/observability/healthcheck.js'], env);
      expect(probe.code, probe.stdout + probe.stderr).toBe(0);
    } finally {
      const down = await docker.compose(project, dir, ['--profile', 'emulator', 'down', '--volumes', '--timeout', '30'], env);
      expect(down.code, down.stderr).toBe(0);
    }
    const left = await docker.ok(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
    expect(left).toBe('');
  }, 180_000);
});
