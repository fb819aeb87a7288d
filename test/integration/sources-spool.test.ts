// The spool source in-process (sources-harness.ts): files dropped in whole are ingested once,
// then deleted or moved to done/; unreadable ones go to failed/ with an .error.txt; a restart
// mid-file continues where it stopped; a missing folder is waited for.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spoolSource } from '../../src/config/sources-schema.js';
import { createSource } from '../../src/sources/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness, quietLogger } from './sources-harness.js';

const T0 = Date.UTC(2026, 10, 27, 8);

function jsonl(from: number, n: number, sensor = 's'): string {
  let text = '';
  for (let i = from; i < from + n; i++) text += JSON.stringify({ sensor, measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
  return text;
}

/** Writes a file next to the folder and renames it in, as writers of spool folders do. */
function drop(dir: string, name: string, text: string): void {
  const tmp = path.join(dir, '..', `.${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path.join(dir, name));
}

function spool(dir: string, h: Harness, settings: Record<string, unknown> = {}) {
  const config = spoolSource.parse({ name: 'drop', type: 'spool', path: dir, format: 'jsonl', poll_interval: 20, ...settings });
  // As the daemon wires it to the outbox: positions looked up per file, deleted once a file is done.
  const forgetCheckpoint = (key: string) => void h.checkpoints.delete(key);
  const checkpointOf = (key: string) => h.checkpoints.get(key);
  return h.start(createSource(config, { lane: 0, checkpoints: [], forgetCheckpoint, checkpointOf, logger: quietLogger }));
}

describe('spool source', () => {
  it('ingests dropped files once, the last line without its newline too, and deletes them', async () => {
    const dir = path.join(tempDir('senseye-spool-'), 'in');
    mkdirSync(dir);
    const h = new Harness();
    spool(dir, h);
    drop(dir, 'a.jsonl', jsonl(0, 50));
    drop(dir, 'b.jsonl', jsonl(50, 50).trimEnd());
    await waitFor(() => h.readings.length >= 100 && readdirSync(dir).length === 0, 'both files ingested and deleted');
    await h.stop();
    expect(h.values()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(h.checkpoints.size).toBe(0); // positions of deleted files are forgotten: the outbox does not grow per file
  });

  it('moves ingested files to done/ with after: move, and dead-letters bad lines with file and line', async () => {
    const dir = path.join(tempDir('senseye-spool-'), 'in');
    mkdirSync(dir);
    const h = new Harness();
    spool(dir, h, { after: 'move' });
    drop(dir, 'mixed.jsonl', jsonl(0, 2) + '{"broken"\n' + jsonl(2, 1));
    await waitFor(() => existsSync(path.join(dir, 'done', 'mixed.jsonl')), 'the file in done/');
    // Its position went with it: moved back from done/, the file is read again, as a new one.
    expect(h.checkpoints.size).toBe(0);
    renameSync(path.join(dir, 'done', 'mixed.jsonl'), path.join(dir, 'mixed.jsonl'));
    await waitFor(() => h.readings.length === 6 && existsSync(path.join(dir, 'done', 'mixed.jsonl')), 'the file read again and moved');
    await h.stop();
    expect(h.values()).toEqual([0, 1, 2, 0, 1, 2]);
    expect(h.dead).toHaveLength(2);
    expect(h.dead[0]).toEqual({ origin: path.join(dir, 'mixed.jsonl'), line: 3, raw: '{"broken"', reason: expect.stringContaining('not valid JSON') });
  });

  it('moves a file that cannot be read to failed/ with an .error.txt saying why', async () => {
    const dir = path.join(tempDir('senseye-spool-'), 'in');
    mkdirSync(dir);
    const h = new Harness();
    spool(dir, h, { format: 'senseye-json', max_file_bytes: 200 });
    drop(dir, 'broken.json', '[{"assetId": "p", "dataPoints": [');
    drop(dir, 'big.json', JSON.stringify([{ assetId: 'p', dataPoints: Array.from({ length: 20 }, (_, i) => ({ timestamp: new Date(T0 + i).toISOString(), measures: [{ name: 'm', value: i }] })) }]));
    drop(dir, 'good.json', JSON.stringify([{ assetId: 'p', dataPoints: [{ timestamp: new Date(T0).toISOString(), measures: [{ name: 'm', value: 1 }, { name: 'x', value: {} }] }] }]));
    await waitFor(() => readdirSync(dir).filter((f) => f.endsWith('.json')).length === 0, 'every file handled');
    await h.stop();
    const failed = readdirSync(path.join(dir, 'failed')).sort();
    expect(failed).toEqual(['big.json', 'big.json.error.txt', 'broken.json', 'broken.json.error.txt']);
    expect(readFileSync(path.join(dir, 'failed', 'broken.json.error.txt'), 'utf8')).toMatch(/source: drop\n.*\n.*\nreason: not valid JSON/);
    expect(readFileSync(path.join(dir, 'failed', 'big.json.error.txt'), 'utf8')).toMatch(/over max_file_bytes \(200\)/);
    // The good document: its good reading in, its bad measure a dead letter, the file done.
    expect(h.values()).toEqual([1]);
    expect(h.dead).toEqual([expect.objectContaining({ origin: path.join(dir, 'good.json'), reason: expect.stringContaining('[0].dataPoints[0].measures[1]') })]);
  });

  it('continues mid-file after a crash, and only disposes of a file whose end was committed before the crash', async () => {
    const dir = path.join(tempDir('senseye-spool-'), 'in');
    mkdirSync(dir);
    const h = new Harness();
    h.autoCommit = false;
    // Small chunks: a 20k-line file is many chunks, so a crash lands mid-file.
    spool(dir, h);
    drop(dir, 'big.jsonl', jsonl(0, 20_000));
    await waitFor(() => h.uncommitted >= 2, 'chunks in flight');
    h.commit();
    await waitFor(() => h.uncommitted >= 1, 'more chunks in flight');
    h.crash();
    const committed = h.readings.length;
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(20_000);
    spool(dir, h);
    h.autoCommit = true;
    h.commit();
    await waitFor(() => readdirSync(dir).length === 0, 'the file finished and deleted');
    await h.stop();
    expect(h.values()).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(h.checkpoints.size).toBe(0);
  });

  it('waits for a folder that is not there yet (not mounted) and ingests once it appears', async () => {
    const dir = path.join(tempDir('senseye-spool-'), 'later');
    const h = new Harness();
    const source = spool(dir, h);
    await new Promise((r) => setTimeout(r, 100));
    expect(source.isCaughtUp()).toBe(false);
    mkdirSync(dir);
    drop(dir, 'a.jsonl', jsonl(0, 3));
    await waitFor(() => h.readings.length === 3, 'the file once the folder exists', { timeoutMs: 10_000 });
    await h.stop();
  });
});
