// The state directory holds raw input (dead letters): only the agent's user may read it,
// whatever the umask it was started with.
import { execFile } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { BIN, ROOT, writeConfig } from '../helpers/agent-process.js';
import { jsonlReadings, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';

let hub: HubEmulator;
beforeEach(async () => {
  hub = await createHubEmulator();
});
afterEach(async () => {
  await hub.close();
});

describe('state directory permissions', () => {
  it('creates state_dir 0700 and the outbox, its WAL, the lock and pid files 0600 under umask 000', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'in.jsonl'), toJsonl(jsonlReadings(0, 20)));
    const stateDir = path.join(dir, 'state');
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: hub.url,
      stateDir,
      sources: [{ name: 'in', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' }],
    });
    const seen = new Map<string, number>();
    // Sample the modes while it runs (the WAL and shm exist only then), then after the stop.
    const run = promisify(execFile)('sh', ['-c', `umask 000 && exec "${process.execPath}" "${BIN}" run --config "${config}" --exit-when-idle`], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, SENSEYE_TOKEN: hub.token },
    });
    const sample = setInterval(() => {
      try {
        for (const name of readdirSync(stateDir)) seen.set(name, statSync(path.join(stateDir, name)).mode & 0o777);
        seen.set('.', statSync(stateDir).mode & 0o777);
      } catch {
        // not there yet
      }
    }, 20);
    try {
      await run;
    } finally {
      clearInterval(sample);
    }
    expect(hub.store.dataPoints.length).toBe(20);
    expect(seen.get('.')).toBe(0o700);
    for (const name of ['outbox.db', 'outbox.db-wal', 'outbox.db-shm', 'agent.lock']) {
      expect(seen.has(name), name).toBe(true);
      expect(seen.get(name)!.toString(8), name).toBe('600');
    }
    for (const [name, mode] of seen) expect(mode & 0o077, `${name} is readable by others: ${mode.toString(8)}`).toBe(0);
  });
});
