// The one-file build (scripts/bundle.js): bin/senseye-agent runs dist/bundle/senseye-agent.js,
// whose planner worker starts from dist/bundle/planner-worker.js; SENSEYE_AGENT_UNBUNDLED=1
// runs dist/cli/main.js module by module instead. Both deliver the same readings.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { BIN, runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let hub: HubEmulator;
const running: AgentProcess[] = [];

beforeEach(async () => {
  hub = await createHubEmulator();
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await hub.close();
});

describe.each([
  { build: 'bundle', env: {} },
  { build: 'modules', env: { SENSEYE_AGENT_UNBUNDLED: '1' } },
])('bin/senseye-agent, $build', ({ build, env }) => {
  it('says which build runs, starts its planner worker from it, and delivers every reading once', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'readings.jsonl');
    const readings = jsonlReadings(0, 30_000);
    writeFileSync(file, toJsonl(readings));
    // Small requests: full rounds (4 × 500) from the start, so the planner worker is started.
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir: path.join(dir, 'state'),
      sources: [{ name: 'press', type: 'file', path: file, format: 'jsonl' }],
      hub: { batch: { max_points: 500, max_wait: '50ms' } },
    });
    const agent = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub.token, ...env });
    running.push(agent);
    await waitFor(() => agent.logs().find((e) => e.event === 'agent_started'), 'agent_started');
    expect(agent.logs().find((e) => e.event === 'agent_started')).toMatchObject({ build, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    // The worker either says it started or that it stopped (a module it could not load).
    const worker = await waitFor(() => agent.logs().find((e) => e.event === 'planner_started' || e.event === 'planner_stopped'), 'the planner worker to start');
    expect(worker, agent.stdout()).toMatchObject({ event: 'planner_started' });
    await waitFor(() => hub.store.dataPoints.length >= readings.length, 'every reading', { timeoutMs: 60_000 });
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code, agent.stderr()).toBe(0);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(readings.map(key)));
    expect(agent.logs().filter((e) => e.event === 'planner_failed' || e.event === 'planner_stopped')).toEqual([]);
  });

  it('answers --version and --help', async () => {
    const version = await runAgentCommand(['--version'], env);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await runAgentCommand(['--help'], env);
    expect(help.code).toBe(0);
    for (const command of ['run', 'backfill', 'emulator', 'status', 'dlq']) expect(help.stdout).toContain(`senseye-agent ${command}`);
  });
});

describe('bin/senseye-agent picks its entry', () => {
  // A copy of the launcher next to two stand-in builds that say which one ran.
  function layout(): { root: string; run: (env?: NodeJS.ProcessEnv) => string; touch: (which: 'bundle' | 'modules', secondsAgo: number) => void } {
    const root = tempDir();
    const files = { bundle: path.join(root, 'dist', 'bundle', 'senseye-agent.js'), modules: path.join(root, 'dist', 'cli', 'main.js') };
    mkdirSync(path.join(root, 'bin'));
    copyFileSync(BIN, path.join(root, 'bin', 'senseye-agent'));
    writeFileSync(path.join(root, 'package.json'), '{"type":"module"}');
    for (const [which, file] of Object.entries(files)) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `export async function main() { process.stdout.write('${which}'); }\n`);
    }
    return {
      root,
      run: (env = {}) => spawnSync(process.execPath, [path.join(root, 'bin', 'senseye-agent')], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }).stdout,
      touch: (which, secondsAgo) => {
        const t = Date.now() / 1000 - secondsAgo;
        utimesSync(files[which], t, t);
      },
    };
  }

  it('runs the bundle unless it is older than the modules (only tsc ran since), missing, or SENSEYE_AGENT_UNBUNDLED=1', () => {
    const l = layout();
    l.touch('modules', 60);
    l.touch('bundle', 30);
    expect(l.run()).toBe('bundle');
    expect(l.run({ SENSEYE_AGENT_UNBUNDLED: '1' })).toBe('modules');
    l.touch('modules', 10); // rebuilt by tsc alone: the bundle is stale
    expect(l.run()).toBe('modules');
    rmSync(path.join(l.root, 'dist', 'bundle'), { recursive: true });
    expect(l.run()).toBe('modules');
  });
});
