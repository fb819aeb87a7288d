// Issue 14, item 2, end to end: the real agent under a low open-files limit (prlimit
// --nofile=256) with one glob over 1,500 one-line files and a spool folder of 300 files,
// against the hub emulator. Every reading arrives exactly once, no file is given up on
// (no file_open_failed, nothing in failed/), the process's descriptors — counted from
// /proc/<pid>/fd while it runs — stay under the limit, and nothing failed with EMFILE.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { receivedKeys } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const T0 = Date.UTC(2026, 10, 27, 8);
const NOFILE = 256;
const FILES = 1500;
const SPOOLED = 300;

let hub: HubEmulator;
let dir: string;
let agent: AgentProcess | null = null;

beforeEach(async () => {
  hub = await createHubEmulator();
  dir = tempDir('senseye-e2e-fd-');
});
afterEach(async () => {
  if (agent !== null && agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
  await hub.close();
});

function line(sensor: string, i: number): string {
  return JSON.stringify({ sensor, measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
}

function key(sensor: string, i: number): string {
  return `${sensor}|m|${new Date(T0 + i * 1000).toISOString()}|${i}`;
}

function openDescriptors(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0; // exited
  }
}

describe('many files under a low open-files limit', () => {
  it(`${FILES} files by one glob and a spool folder of ${SPOOLED}, --nofile=${NOFILE}: every reading once, descriptors under the limit`, async () => {
    const data = path.join(dir, 'data');
    const spool = path.join(dir, 'spool');
    mkdirSync(data);
    mkdirSync(spool);
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(data, `r${String(i).padStart(5, '0')}.jsonl`), line('many', i));
    for (let i = 0; i < SPOOLED; i++) writeFileSync(path.join(spool, `s${String(i).padStart(5, '0')}.jsonl`), line('spooled', i));
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir: path.join(dir, 'state'),
      sources: [
        { name: 'many', type: 'file', path: path.join(data, '*.jsonl'), format: 'jsonl' },
        { name: 'drop', type: 'spool', path: spool, format: 'jsonl', poll_interval: '100ms' },
      ],
    });
    agent = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub.token }, { nofile: NOFILE });
    const pid = agent.child.pid!;
    let maxOpen = 0;
    const sampler = setInterval(() => (maxOpen = Math.max(maxOpen, openDescriptors(pid))), 20);
    try {
      await waitFor(() => new Set(receivedKeys(hub)).size === FILES + SPOOLED, `${FILES + SPOOLED} readings at the hub`, { timeoutMs: 60_000, intervalMs: 100 }).catch(
        (err: Error) => {
          throw new Error(`${err.message}; ${new Set(receivedKeys(hub)).size} arrived; log tail: ${agent!.stdout().slice(-2000)} ${agent!.stderr()}`);
        },
      );
      // Let requests in flight finish: a graceful stop delivers what was read and is in flight.
      agent.child.kill('SIGTERM');
      const { code } = await agent.exited;
      expect(code, agent.stderr()).toBe(0);
    } finally {
      clearInterval(sampler);
    }

    const counts = new Map<string, number>();
    for (const k of receivedKeys(hub)) counts.set(k, (counts.get(k) ?? 0) + 1);
    const expected = [...Array.from({ length: FILES }, (_, i) => key('many', i)), ...Array.from({ length: SPOOLED }, (_, i) => key('spooled', i))];
    expect(expected.filter((k) => counts.get(k) !== 1), 'readings not delivered exactly once').toEqual([]);
    expect(counts.size).toBe(expected.length);

    expect(maxOpen).toBeGreaterThan(0);
    expect(maxOpen, 'open descriptors of the agent').toBeLessThan(NOFILE);
    const logs = agent.logs();
    const bad = logs.filter((l) => ['file_open_failed', 'source_waiting', 'spool_file_failed', 'descriptors_exhausted'].includes(String(l.event)));
    expect(bad).toEqual([]);
    expect(logs.some((l) => l.event === 'files_queued' && l.source === 'many')).toBe(true);
    // Neither the hub connections nor the outbox ran out of descriptors.
    expect(agent.stdout().includes('EMFILE') || agent.stderr().includes('EMFILE')).toBe(false);
    expect(existsSync(path.join(spool, 'failed'))).toBe(false);
    expect(readdirSync(spool)).toEqual([]);
  }, 90_000);
});
