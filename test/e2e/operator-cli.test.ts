// The operator's commands on a real state directory: status, dlq list/replay/purge, outbox doctor.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, writeConfig } from '../helpers/agent-process.js';
import { tempDir } from '../helpers/tmp.js';

let hub: HubEmulator;
beforeEach(async () => {
  hub = await createHubEmulator();
});
afterEach(async () => {
  await hub.close();
});

describe('operator commands', () => {
  it('status shows counts and positions; dlq lists, replays after a config fix, and purges; doctor checks', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'in.jsonl');
    const line = (sensor: string | null, i: number) =>
      JSON.stringify({ ...(sensor ? { sensor } : {}), measure: 'temperature', ts: new Date(Date.UTC(2026, 10, 27, 8, 0, i)).toISOString(), value: i });
    writeFileSync(file, [line('press-01', 1), line(null, 2), line('press-01', 3), line(null, 4), line('press-01', 5)].join('\n') + '\n');
    const source = { name: 'press', type: 'file', path: file, format: 'jsonl' };
    const configFile = path.join(dir, 'agent.yaml');
    const write = (extra: Record<string, unknown>) =>
      writeConfig(configFile, { hubUrl: hub.url, stateDir: path.join(dir, 'state'), sources: [{ ...source, ...extra }] });
    write({});
    const env = { SENSEYE_TOKEN: hub.token };

    const first = await runAgentCommand(['run', '--config', configFile, '--exit-when-idle'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(hub.store.dataPoints).toHaveLength(3);

    const status = JSON.parse((await runAgentCommand(['status', '--config', configFile, '--json'])).stdout);
    expect(status.counts).toMatchObject({ appended: 3, delivered: 3, depth: 0, invalid: 2 });
    expect(status.deadLetters).toEqual({ parse: 2, hub: 0, expired: 0 });
    expect(status.sources).toEqual([expect.objectContaining({ source: 'press', path: file, line: 5 })]);
    const text = (await runAgentCommand(['status', '--config', configFile])).stdout;
    expect(text).toMatch(/delivered\s+3 readings/);
    expect(text).toMatch(/dead letters\s+2 invalid input/);

    const list = await runAgentCommand(['dlq', 'list', '--config', configFile]);
    expect(list.stdout).toContain(`${file}:2: missing "sensor"`);
    expect(list.stdout).toContain(`${file}:4: missing "sensor"`);
    const rows = JSON.parse((await runAgentCommand(['dlq', 'list', '--config', configFile, '--json'])).stdout) as Array<{ id: number }>;
    expect(rows).toHaveLength(2);

    // Without a selection, replay refuses (nothing happens by accident).
    expect((await runAgentCommand(['dlq', 'replay', '--config', configFile])).code).toBe(78);
    // Still broken under the same config: kept, exit 2.
    const stillBad = await runAgentCommand(['dlq', 'replay', '--config', configFile, '--id', String(rows[0]!.id)]);
    expect(stillBad.code).toBe(2);
    expect(stillBad.stdout).toContain('still invalid');

    write({ sensor: 'press-09' });
    const replay = await runAgentCommand(['dlq', 'replay', '--config', configFile, '--all']);
    expect(replay.stdout).toContain('replayed 2 dead letters (2 readings back in the outbox)');
    const second = await runAgentCommand(['run', '--config', configFile, '--exit-when-idle'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(hub.store.dataPoints).toHaveLength(5);
    expect(hub.store.sensors.map((s) => s.mappingId).sort()).toEqual(['press-01', 'press-09']);

    appendFileSync(file, 'not json\n');
    await runAgentCommand(['run', '--config', configFile, '--exit-when-idle'], env);
    const purge = await runAgentCommand(['dlq', 'purge', '--config', configFile, '--all']);
    expect(purge.stdout).toContain('deleted 1 dead letters');
    expect((await runAgentCommand(['dlq', 'list', '--config', configFile])).stdout).toContain('no dead letters');

    const doctor = await runAgentCommand(['outbox', 'doctor', '--config', configFile]);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toContain('integrity ok');
  });
});
