// File and spool sources do not follow symbolic links unless told to (and then only to regular
// files): a link dropped into a watched folder must not make the agent read a file it was never
// meant to. Every link skipped is logged once.
import { existsSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSource, spoolSource } from '../../src/config/sources-schema.js';
import { createSource } from '../../src/sources/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness } from './sources-harness.js';

const T0 = Date.UTC(2026, 10, 27, 8);
const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
});

function jsonl(sensor: string, n: number): string {
  let text = '';
  for (let i = 0; i < n; i++) text += JSON.stringify({ sensor, measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
  return text;
}

function setUp() {
  const root = tempDir('senseye-links-');
  const secret = path.join(root, 'secret');
  mkdirSync(secret);
  const target = path.join(secret, 'private.jsonl');
  writeFileSync(target, `${jsonl('secret', 3)}not a reading\n`, { mode: 0o600 });
  const watched = path.join(root, 'in');
  mkdirSync(watched);
  writeFileSync(path.join(watched, 'plain.jsonl'), jsonl('plain', 2));
  symlinkSync(target, path.join(watched, 'link.jsonl'));
  symlinkSync(secret, path.join(watched, 'linked-folder')); // a link to a folder: not walked
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { root, watched, target, lines, logger };
}

describe('symbolic links', () => {
  it('a file source skips links (to files and folders), says so once, and reads the rest', async () => {
    const { watched, target, lines, logger } = setUp();
    const h = new Harness();
    harnesses.push(h);
    const config = fileSource.parse({ name: 'f', type: 'file', path: path.join(watched, '**/*.jsonl'), format: 'jsonl', poll_interval: 20, refresh_interval: 50, start_at: 'beginning' });
    h.start(createSource(config, { lane: 0, checkpoints: [], logger }));
    await waitFor(() => h.readings.length >= 2, 'the plain file');
    await waitFor(() => lines.some((l) => l.event === 'symlink_skipped'), 'the skip logged');
    // A file that appears later is found by a later look at the folder: the link was looked at again by then.
    writeFileSync(path.join(watched, 'later.jsonl'), jsonl('later', 1));
    await waitFor(() => h.readings.length >= 3, 'a file found by a later look');
    expect(h.readings.map((r) => r.sensor)).toEqual(['plain', 'plain', 'later']);
    expect(h.dead).toEqual([]);
    const skipped = lines.filter((l) => l.event === 'symlink_skipped');
    expect(skipped).toEqual([expect.objectContaining({ path: path.join(watched, 'link.jsonl'), target })]);
  });

  it('a spool source leaves a link alone: not read, not dead-lettered, not deleted', async () => {
    const { watched, target, lines, logger } = setUp();
    const h = new Harness();
    harnesses.push(h);
    const config = spoolSource.parse({ name: 's', type: 'spool', path: watched, format: 'jsonl', poll_interval: 20 });
    h.start(createSource(config, { lane: 0, checkpoints: [], logger, checkpointOf: () => undefined, forgetCheckpoint: () => undefined }));
    await waitFor(() => !existsSync(path.join(watched, 'plain.jsonl')), 'the plain file taken');
    await waitFor(() => lines.some((l) => l.event === 'symlink_skipped'), 'the skip logged');
    expect(h.readings.map((r) => r.sensor)).toEqual(['plain', 'plain']);
    expect(h.dead).toEqual([]);
    expect(lstatSync(path.join(watched, 'link.jsonl')).isSymbolicLink()).toBe(true);
    expect(existsSync(target)).toBe(true);
  });

  it('with follow_symlinks: true, a link to a regular file is read', async () => {
    const { watched, lines, logger } = setUp();
    const h = new Harness();
    harnesses.push(h);
    const config = fileSource.parse({ name: 'f', type: 'file', path: path.join(watched, '*.jsonl'), format: 'jsonl', poll_interval: 20, refresh_interval: 50, start_at: 'beginning', follow_symlinks: true });
    h.start(createSource(config, { lane: 0, checkpoints: [], logger }));
    await waitFor(() => h.readings.length >= 5, 'the plain file and the link target');
    expect(h.readings.map((r) => r.sensor).sort()).toEqual(['plain', 'plain', 'secret', 'secret', 'secret']);
    expect(lines.filter((l) => l.event === 'symlink_skipped')).toEqual([]);
  });
});
