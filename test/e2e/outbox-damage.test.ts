// A damaged outbox as it happens: a real agent runs and stops, its outbox.db is marked as not
// cleanly stopped (as after a crash, so the next start checks it), garbage is written over
// pages of it, and the next agent process must recover
// file positions and hub sensor ids from the damaged copy instead of sending every file again.
// The emulator counts what arrives.
import { appendFileSync, closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let hub: HubEmulator;
let dir: string;
let stateDir: string;
const running: AgentProcess[] = [];

beforeEach(async () => {
  hub = await createHubEmulator();
  dir = tempDir();
  stateDir = path.join(dir, 'state');
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await hub.close();
});

const env = () => ({ SENSEYE_TOKEN: hub.token });
function start(config: string, ...extra: string[]): AgentProcess {
  const p = spawnAgent(['run', '--config', config, ...extra], env());
  running.push(p);
  return p;
}

/**
 * Marks the outbox as not cleanly stopped and writes garbage over the root page of each table
 * named. The agent was stopped with SIGTERM first, so every acknowledgement is committed and
 * the counts at the emulator are exact.
 */
function damage(tables: string[]): void {
  const file = path.join(stateDir, 'outbox.db');
  const db = new Database(file);
  db.prepare("UPDATE state SET value = 'false' WHERE key = 'clean_shutdown'").run();
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const roots = tables.map((t) => db.prepare("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(t) as number);
  db.close();
  const fd = openSync(file, 'r+');
  for (const page of roots) {
    expect(page).toBeGreaterThan(1);
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
  }
  closeSync(fd);
}

async function stop(p: AgentProcess): Promise<void> {
  p.child.kill('SIGTERM');
  expect((await p.exited).code, p.stderr()).toBe(0);
}

const sensorPosts = () => hub.store.requests.filter((r) => r.method === 'POST' && r.path === '/v1/hub/sensors').length;

describe('a damaged outbox', () => {
  it('recovers file positions and sensor ids: what was delivered before is not delivered again', async () => {
    const file = path.join(dir, 'press.jsonl');
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir,
      sources: [{ name: 'press', type: 'file', path: file, format: 'jsonl' }],
      hub: { batch: { max_points: 1000, max_wait: '20ms' } },
    });
    const before = jsonlReadings(0, 20_000);
    writeFileSync(file, toJsonl(before));
    const first = start(config);
    await waitFor(() => hub.store.dataPoints.length >= before.length, 'every reading of the first run');
    await stop(first);
    expect(sensorPosts()).toBe(3);
    damage(['readings', 'dead_letters']);

    const second = start(config);
    const salvaged = await waitFor(() => second.logs().find((l) => l.event === 'outbox_salvaged'), 'the salvage log line');
    expect(second.logs().find((l) => l.event === 'outbox_damaged')).toMatchObject({ level: 'error', moved_to: expect.stringContaining('outbox.db.damaged-') });
    expect(salvaged).toMatchObject({ salvaged: { positions: 1, sensorIds: 3 }, positions_lost: null });
    expect(String(salvaged.msg)).toContain('1 file positions, 3 hub sensor ids');
    expect(String(salvaged.msg)).toContain('could not be read: readings');
    expect(second.logs().some((l) => l.event === 'positions_lost')).toBe(false);

    const after = jsonlReadings(20_000, 500);
    appendFileSync(file, toJsonl(after));
    await waitFor(() => hub.store.dataPoints.length >= before.length + after.length, 'the readings appended after the damage');
    await stop(second);
    // Each reading arrived once: the 20,000 delivered before the damage were not read again.
    expect(hub.store.dataPoints).toHaveLength(before.length + after.length);
    expect(sorted(receivedKeys(hub))).toEqual(sorted([...before, ...after].map(key)));
    expect(sensorPosts()).toBe(3); // the hub's ids were recovered, not asked for again

    const doctor = await runAgentCommand(['outbox', 'doctor', '--config', config]);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain('integrity ok');
    expect(doctor.stdout).toMatch(/last damage: .*; moved to .*outbox\.db\.damaged-/);
    expect(doctor.stdout).toContain('recovered: 0 readings, 0 spectra, 0 dead letters, 1 file positions, 3 hub sensor ids');
    expect(doctor.stdout).toContain('file positions: every one recovered; files went on where they were');
    expect(doctor.stdout).toMatch(/damaged copy: .* \(its readable rows were recovered at /);
    const copy = String(salvaged.moved_to);
    const again = await runAgentCommand(['outbox', 'doctor', '--config', config, '--salvage', copy]);
    expect(again.stdout).toContain('already recovered into this outbox');
  });

  it('positions that cannot be read: the log and doctor say how many files start again, and start_at applies', async () => {
    const press = path.join(dir, 'press.jsonl');
    const tail = path.join(dir, 'tail', 'line.jsonl');
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir,
      sources: [
        { name: 'press', type: 'file', path: press, format: 'jsonl' },
        { name: 'tail', type: 'file', path: path.join(dir, 'tail', '*.jsonl'), format: 'jsonl', start_at: 'end' },
      ],
      hub: { batch: { max_points: 1000, max_wait: '20ms' } },
    });
    const pressReadings = jsonlReadings(0, 3000);
    const tailReadings = jsonlReadings(0, 200, ['tail-1']);
    writeFileSync(press, toJsonl(pressReadings));
    mkdirSync(path.dirname(tail));
    const first = start(config);
    await waitFor(() => hub.store.dataPoints.length >= pressReadings.length, 'the press readings');
    // Appears after the first scan: new data, read from its start despite start_at: end.
    writeFileSync(tail, toJsonl(tailReadings));
    await waitFor(() => hub.store.dataPoints.length >= pressReadings.length + tailReadings.length, 'the tail readings');
    await stop(first);
    damage(['checkpoints']);

    const second = start(config, '--exit-when-idle');
    expect((await second.exited).code, second.stderr()).toBe(0);
    const salvaged = second.logs().find((l) => l.event === 'outbox_salvaged');
    expect(salvaged).toMatchObject({ level: 'error', salvaged: { positions: 0, sensorIds: 4 }, positions_lost: expect.any(String) });
    const lost = second.logs().filter((l) => l.event === 'positions_lost');
    expect(lost.map((l) => [l.source, l.files, l.from])).toEqual([
      ['press', 1, 'beginning'],
      ['tail', 1, 'end'],
    ]);
    // press (start_at: beginning) was read again from its start: its readings arrived twice;
    // tail (start_at: end, no position left) went on from its end: once.
    const received = receivedKeys(hub);
    expect(received).toHaveLength(2 * pressReadings.length + tailReadings.length);
    expect(sorted(received)).toEqual(sorted([...pressReadings, ...pressReadings, ...tailReadings].map(key)));

    const doctor = await runAgentCommand(['outbox', 'doctor', '--config', config]);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/file positions lost \(.+\):/);
    expect(doctor.stdout).toContain('source press: 1 files started again from their beginning');
    expect(doctor.stdout).toContain('source tail: 1 files started again from their end');
    expect(doctor.stdout).toMatch(/could not be read: file positions: /);
  });
});
