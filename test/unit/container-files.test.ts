/**
 * The Dockerfile checked as text against the code, in a second, on any machine (the image
 * itself is built and run by test/container, where a Docker engine can start): its paths, port,
 * user and health check agree with the defaults the code exports (never restated here as
 * literals), its final stage carries no build tools or dev dependencies, everything it copies is
 * in the build context, and examples/compose (README's "Run in a container") mounts the config,
 * state and secret where the image and the code expect them, with the image's health check.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CREDENTIAL_NAME, DOCKER_SECRET_PATH } from '../../src/auth/token-sources.js';
import { DEFAULT_HTTP_LISTEN, INSTALL_PATHS } from '../../src/config/ops-schema.js';
import { configSchema } from '../../src/config/schema.js';
import { parseDuration } from '../../src/config/units.js';
import { DEFAULT_HEALTHCHECK_URL } from '../../src/observability/healthcheck.js';
import { parseListen } from '../../src/config/listen-address.js';
import { ROOT } from '../helpers/agent-process.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

/** Instructions by stage: comments dropped, continuation lines joined, ARG defaults substituted in FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full !== '') logical.push(full);
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=', 2);
      args.set(k!, v);
      continue;
    }
    if (op === 'FROM') {
      const f = /^(\S+)(?: AS (\S+))?$/i.exec(rest)!;
      const image = f[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? '');
      stages.push({ from: image, name: f[2] ?? null, instructions: [] });
      continue;
    }
    stages.at(-1)!.instructions.push({ op, args: rest });
  }
  return stages;
}

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages.at(-1)!;
const of = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const last = (stage: Stage, op: string) => of(stage, op).at(-1);
const exec = (json: string) => JSON.parse(json) as string[];
const listenPort = () => {
  const a = parseListen(DEFAULT_HTTP_LISTEN);
  if (typeof a === 'string') throw new Error(a);
  return a.port;
};
const shutdownTimeoutMs = configSchema.shape.shutdown_timeout.parse(undefined);

describe('Dockerfile', () => {
  it('builds every stage on the official Node 20 slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toBe('node:20-bookworm-slim');
  });

  it('runs the CLI entrypoint with the conventional config path', () => {
    expect(exec(last(final, 'ENTRYPOINT')!)).toEqual(['node', `${last(final, 'WORKDIR')}/bin/senseye-agent`]);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin['senseye-agent']).toBe('bin/senseye-agent');
    expect(exec(last(final, 'CMD')!)).toEqual(['run', '--config', INSTALL_PATHS.configFile]);
  });

  it('runs as a fixed non-root user that owns the state volume', () => {
    const user = last(final, 'USER')!;
    const [uid, gid] = user.split(':');
    expect(uid).toMatch(/^\d+$/); // numeric, so Kubernetes' runAsNonRoot can check it
    expect(Number(uid)).toBeGreaterThan(0);
    const run = of(final, 'RUN').join(' && ');
    expect(run).toContain(`useradd --system --uid ${uid} --gid senseye`);
    expect(run).toContain(`groupadd --system --gid ${gid} senseye`);
    expect(run).toContain(`chown senseye:senseye ${INSTALL_PATHS.stateDir}`);
    expect(exec(last(final, 'VOLUME')!)).toEqual([INSTALL_PATHS.stateDir]);
    expect(last(final, 'ENV')).toContain(`SENSEYE_STATE_DIR=${INSTALL_PATHS.stateDir}`);
  });

  it('exposes the health port and checks liveness with node on it', () => {
    expect(last(final, 'EXPOSE')).toBe(String(listenPort()));
    const hc = last(final, 'HEALTHCHECK')!;
    const cmd = exec(hc.slice(hc.indexOf('CMD ') + 4));
    expect(cmd).toEqual(['node', `${last(final, 'WORKDIR')}/dist/observability/healthcheck.js`]);
    expect(existsSync(path.join(ROOT, 'src/observability/healthcheck.ts'))).toBe(true);
    expect(new URL(DEFAULT_HEALTHCHECK_URL).port).toBe(String(listenPort()));
    expect(new URL(DEFAULT_HEALTHCHECK_URL).pathname).toBe('/healthz');
    expect(last(final, 'STOPSIGNAL')).toBe('SIGTERM');
  });

  it('keeps build tools and dev dependencies out of the final stage', () => {
    const run = of(final, 'RUN').join('\n');
    expect(run).not.toMatch(/apt-get install|npm (ci|install)|python3|g\+\+/);
    expect(run).toMatch(/rm -rf .*\/usr\/local\/lib\/node_modules\/npm/);
    const copies = of(final, 'COPY').filter((c) => c.startsWith('--from='));
    const modules = copies.find((c) => / \.\/node_modules$/.test(c))!;
    const depsStage = stages.find((s) => s.name === /^--from=(\S+)/.exec(modules)![1])!;
    const install = of(depsStage, 'RUN').join(' ');
    expect(install).toMatch(/npm ci --omit=dev/);
    expect(install).not.toMatch(/npm (ci|install)(?![^&]*--omit=dev)/);
    // The compiled output comes from the stage that ran tsc with the build config, then the
    // bundler bin/senseye-agent prefers (the same two steps as `npm run build`).
    const dist = copies.find((c) => / \.\/dist$/.test(c))!;
    const buildStage = stages.find((s) => s.name === /^--from=(\S+)/.exec(dist)![1])!;
    expect(of(buildStage, 'RUN').join(' ')).toContain('tsc -p tsconfig.build.json && node scripts/bundle.js');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && node scripts/bundle.js');
    const buildConfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
    expect(buildConfig.compilerOptions.outDir).toBe('dist');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const allow = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(allow[0]).toBe('*');
    const allowed = new Set(allow.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, '')));
    for (const stage of stages) {
      for (const copy of of(stage, 'COPY')) {
        if (copy.startsWith('--from=')) continue;
        const sources = copy.split(' ').slice(0, -1);
        for (const source of sources) {
          expect(existsSync(path.join(ROOT, source)), `COPY ${source}: not in the repository`).toBe(true);
          expect(allowed.has(source.replace(/\/$/, '')), `COPY ${source}: excluded by .dockerignore`).toBe(true);
        }
      }
    }
  });
});

describe('examples/compose', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Run in a container'));
  const compose = parseYaml(readFileSync(path.join(ROOT, 'examples/compose/compose.yaml'), 'utf8')) as {
    services: Record<
      string,
      { volumes: string[]; secrets: string[]; stop_grace_period: string; network_mode?: string; ports?: string[]; healthcheck: Record<string, unknown>; profiles?: string[] }
    >;
    secrets: Record<string, { file: string }>;
  };
  const service = compose.services['senseye-agent']!;

  it('is the compose file README\'s "Run in a container" uses', () => {
    expect(section).toContain('](examples/compose/)');
    expect(compose.services.emulator?.profiles).toEqual(['emulator']);
  });

  it('puts config, state and the token where the image and the code look for them', () => {
    const targets = service.volumes.map((v) => v.split(':')[1]);
    expect(targets).toContain(INSTALL_PATHS.stateDir);
    expect(targets).toContain(INSTALL_PATHS.configFile);
    // Docker and compose mount a secret at /run/secrets/<name>; the agent reads DOCKER_SECRET_PATH.
    expect(service.secrets).toEqual([CREDENTIAL_NAME]);
    expect(Object.keys(compose.secrets)).toEqual([CREDENTIAL_NAME]);
    expect(DOCKER_SECRET_PATH).toBe(`/run/secrets/${CREDENTIAL_NAME}`);
    expect(parseDuration(service.stop_grace_period)).toBeGreaterThan(shutdownTimeoutMs);
    // The health port: the host's own (host network), or published.
    expect(service.network_mode === 'host' || (service.ports ?? []).some((p) => p.endsWith(`:${listenPort()}`))).toBe(true);
  });

  it('spells out the image\'s own health check', () => {
    const hc = last(final, 'HEALTHCHECK')!;
    expect(service.healthcheck.test).toEqual(['CMD', ...exec(hc.slice(hc.indexOf('CMD ') + 4))]);
    for (const [flag, key] of [['interval', 'interval'], ['timeout', 'timeout'], ['start-period', 'start_period'], ['retries', 'retries']] as const) {
      expect(String(service.healthcheck[key]), key).toBe(new RegExp(`--${flag}=(\\S+)`).exec(hc)![1]);
    }
  });
});
