// The one-file build (scripts/bundle.js): bin/senseye-agent runs dist/bundle/senseye-agent.js,
// whose planner worker starts from dist/bundle/planner-worker.js; SENSEYE_AGENT_UNBUNDLED=1
// runs dist/cli/main.js module by module instead. Both deliver the same readings.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
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
