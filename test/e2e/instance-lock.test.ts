// One agent per state directory, as an operator meets it: real `run` processes on one config,
// the emulator over HTTP counting what arrives, read-only commands and backfill beside the daemon.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let hub: HubEmulator;
let dir: string;
let stateDir: string;
let config: string;
let file: string;
const running: AgentProcess[] = [];

beforeEach(async () => {
  hub = await createHubEmulator();
  dir = tempDir();
  stateDir = path.join(dir, 'state');
  file = path.join(dir, 'press.jsonl');
  config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir,
    sources: [{ name: 'press', type: 'file', path: file, format: 'jsonl' }],
    hub: { batch: { max_points: 500, max_wait: '20ms' } },
  });
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await hub.close();
});

const env = () => ({ SENSEYE_TOKEN: hub.token });

function start(...args: string[]): AgentProcess {
  const p = spawnAgent(args.length > 0 ? args : ['run', '--config', config], env());
  running.push(p);
  return p;
}

const started = (p: AgentProcess) => waitFor(() => p.logs().some((l) => l.event === 'agent_started'), 'the agent to start');

async function stop(p: AgentProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const { code } = await p.exited;
  expect(code, p.stderr()).toBe(0);
}

/** The refused process's stderr is one line naming the holder's pid and the state dir. */
function expectRefusal(stderr: string, holderPid: number | undefined): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toContain(`pid ${holderPid}`);
}

describe('one agent per state directory', () => {
  it('a second run exits 75 naming the first one; the first keeps delivering, each reading once', async () => {
    const part1 = jsonlReadings(0, 5000);
    writeFileSync(file, toJsonl(part1));
    const first = start();
    await started(first);

    const second = start();
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(75);
    expectRefusal(second.stderr(), first.child.pid);
    expect(second.stderr()).toContain(stateDir);
    const fatal = second.logs().find((l) => l.event === 'agent_already_running');
    expect(fatal).toMatchObject({ level: 'fatal', holder_pid: first.child.pid, state_dir: stateDir, code: 'SENSEYE_AGENT_RUNNING' });
    // It never got as far as the outbox or the hub.
    expect(second.logs().some((l) => l.event === 'agent_started')).toBe(false);

    const part2 = jsonlReadings(5000, 1000);
    appendFileSync(file, toJsonl(part2));
    const all = [...part1, ...part2];
    await waitFor(() => hub.store.dataPoints.length >= all.length, 'every reading from the first agent');
    await stop(first);
    expect(hub.store.dataPoints).toHaveLength(all.length);
    expect(sorted(receivedKeys(hub))).toEqual(sorted(all.map(key)));
    expect(hub.store.sensors).toHaveLength(3); // each sensor created once
  });

  it('after SIGKILL of the holder a new run starts at once and finishes delivery', async () => {
    const all = jsonlReadings(0, 30_000);
    writeFileSync(file, toJsonl(all));
    const first = start();
    await waitFor(() => hub.store.dataPoints.length > 0, 'the first readings');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = start('run', '--config', config, '--exit-when-idle');
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(0);
    expect(second.logs().some((l) => l.event === 'agent_already_running')).toBe(false);
    // Only batches in flight at the kill may repeat; nothing is missing.
    expect(new Set(receivedKeys(hub))).toEqual(new Set(all.map(key)));
  });

  it('status, dlq list and outbox doctor work beside a running agent', async () => {
    writeFileSync(file, toJsonl(jsonlReadings(0, 100)));
    const agent = start();
    await started(agent);
    await waitFor(() => hub.store.dataPoints.length >= 100, 'the readings');

    const status = await runAgentCommand(['status', '--config', config, '--json'], env());
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toBeTypeOf('object');
    const dlq = await runAgentCommand(['dlq', 'list', '--config', config], env());
    expect(dlq.code, dlq.stderr).toBe(0);
    const doctor = await runAgentCommand(['outbox', 'doctor', '--config', config], env());
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain('integrity ok');
    expect(agent.child.exitCode).toBeNull();
    await stop(agent);
  });

  it('a backfill beside the daemon completes; a second run of the same backfill exits 75 naming the first', async () => {
    writeFileSync(file, toJsonl(jsonlReadings(0, 100)));
    const daemon = start();
    await waitFor(() => hub.store.dataPoints.length >= 100, 'the live readings');
    const history = path.join(dir, 'old.jsonl');
    const old = jsonlReadings(100_000, 6000, ['hist-1']);
    writeFileSync(history, toJsonl(old));
    // The hub answers 503 until the second run has been refused: the first backfill holds its
    // job (retrying) however slow this machine is.
    hub.faults.add({ endpoint: 'any', status: 503, times: Number.POSITIVE_INFINITY });
    const job = start('backfill', '--config', config, history);
    await waitFor(() => hub.store.requests.some((r) => r.status === 503), 'the backfill to hold its job and send');
    expect(job.child.exitCode).toBeNull();

    const again = await runAgentCommand(['backfill', '--config', config, history], env());
    expect(again.code, again.stderr).toBe(75);
    expectRefusal(again.stderr, job.child.pid);
    hub.faults.clear();

    expect((await job.exited).code, job.stderr()).toBe(0);
    await stop(daemon);
    expect(new Set(receivedKeys(hub))).toEqual(new Set([...jsonlReadings(0, 100), ...old].map(key)));
  });
});
