// The file source's features other than rotation, in-process (sources-harness.ts): several
// globs and exclude, new files picked up, start_at, the partial last line, over-long lines,
// CSV header state across a restart, whole documents, and gzip files matched by a glob.
import { appendFileSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../src/config/sources-schema.js';
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

function run(h: Harness, settings: Record<string, unknown>) {
  const config = fileSource.parse({ name: 'f', type: 'file', format: 'jsonl', poll_interval: 10, refresh_interval: 20, rotate_wait: 50, ...settings });
  return h.start(createSource(config, { lane: 0, checkpoints: h.savedCheckpoints(), logger: quietLogger }));
}

describe('file source', () => {
  it('follows several globs minus exclude, and picks up files that appear later', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    writeFileSync(path.join(dir, 'a', 'one.jsonl'), jsonl(0, 2, 'a1'));
    writeFileSync(path.join(dir, 'a', 'skip.tmp.jsonl'), jsonl(0, 2, 'skipped'));
    writeFileSync(path.join(dir, 'b', 'two.log'), jsonl(0, 2, 'b2'));
    const h = new Harness();
    run(h, { path: [path.join(dir, 'a', '*.jsonl'), path.join(dir, 'b', '*.log')], exclude: '*.tmp.jsonl' });
    await waitFor(() => h.readings.length === 4, 'both globs');
    writeFileSync(path.join(dir, 'b', 'three.log'), jsonl(0, 2, 'b3'));
    await waitFor(() => h.readings.length === 6, 'a new file');
    await h.stop();
    expect([...new Set(h.readings.map((r) => r.sensor))].sort()).toEqual(['a1', 'b2', 'b3']);
  });

  it('start_at: end skips what files held at the first run, but not files that appear later or after restarts', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.jsonl');
    writeFileSync(file, jsonl(0, 5) + '{"partial');
    const h = new Harness();
    run(h, { path: path.join(dir, '*.jsonl'), start_at: 'end' });
    await waitFor(() => h.current?.isCaughtUp(), 'the first scan');
    appendFileSync(file, '\n' + jsonl(5, 2));
    writeFileSync(path.join(dir, 'new.jsonl'), jsonl(100, 1));
    await waitFor(() => h.readings.length === 3, 'appended lines and the new file');
    await h.stop();
    // The partial line present at start counts as old data: it starts the first line read, which is refused.
    writeFileSync(path.join(dir, 'while-stopped.jsonl'), jsonl(200, 1));
    run(h, { path: path.join(dir, '*.jsonl'), start_at: 'end' });
    await waitFor(() => h.readings.length === 4, 'the file created while stopped, from its start');
    await h.stop();
    expect(h.values().sort()).toEqual([100, 200, 5, 6]);
  });

  it('holds a last line without newline until it is completed, and flushes it when the file is rotated away', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, jsonl(0, 1) + jsonl(1, 1).slice(0, 20));
    const h = new Harness();
    run(h, { path: path.join(dir, '*.log') });
    await waitFor(() => h.readings.length === 1, 'the complete line');
    // A file found later is read at a later pass over every open file: by then app.log was
    // looked at again, and its unterminated line must still be held (not read, not refused).
    writeFileSync(path.join(dir, 'later.log'), jsonl(99, 1, 'later'));
    await waitFor(() => h.readings.some((r) => r.sensor === 'later'), 'a file found after the first pass');
    expect(h.readings.filter((r) => r.sensor !== 'later')).toHaveLength(1);
    expect(h.dead).toEqual([]);
    appendFileSync(file, jsonl(1, 1).slice(20) + jsonl(2, 1).trimEnd());
    await waitFor(() => h.readings.length === 3, 'the completed line');
    renameSync(file, `${file}.1`);
    await waitFor(() => h.readings.length === 4, 'the unterminated last line once the file is let go');
    await h.stop();
    expect(h.readings.filter((r) => r.sensor !== 'later').map((r) => r.value)).toEqual([0, 1, 2]);
  });

  it('dead-letters a line over max_line_bytes with its line number, and reads on', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.jsonl');
    writeFileSync(file, jsonl(0, 1) + 'z'.repeat(5000) + '\n' + jsonl(1, 1));
    const h = new Harness();
    run(h, { path: file, max_line_bytes: '1KiB' });
    await waitFor(() => h.readings.length === 2 && h.dead.length === 1, 'two readings and a dead letter');
    await h.stop();
    expect(h.dead[0]).toMatchObject({ origin: file, line: 2, raw: 'z'.repeat(4096), reason: expect.stringMatching(/over the 1024-byte limit/) });
  });

  it('keeps a CSV header across a restart mid-file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'pump.csv');
    writeFileSync(file, 'DATETIME,rms\n2026-11-27T10:00:00Z,1\n');
    const h = new Harness();
    run(h, { path: file, format: 'senseye-csv', sensor: 'p' });
    await waitFor(() => h.readings.length === 1, 'first row');
    await h.stop();
    appendFileSync(file, '2026-11-27T10:01:00Z,2\n');
    run(h, { path: file, format: 'senseye-csv', sensor: 'p' });
    await waitFor(() => h.readings.length === 2, 'second row after the restart');
    await h.stop();
    expect(h.values('rms')).toEqual([1, 2]);
    expect(h.dead).toEqual([]);
  });

  it('reads whole documents once they stopped changing, again only when rewritten', async () => {
    const dir = tempDir();
    const doc = (v: number) => JSON.stringify([{ assetId: 'p', dataPoints: [{ timestamp: new Date(T0).toISOString(), measures: [{ name: 'm', value: v }] }] }]);
    writeFileSync(path.join(dir, 'a.json'), doc(1));
    writeFileSync(path.join(dir, 'b.json.gz'), gzipSync(doc(2)));
    const h = new Harness();
    run(h, { path: path.join(dir, '*'), format: 'senseye-json', rotate_wait: 100 });
    await waitFor(() => h.readings.length === 2, 'both documents');
    await h.stop();
    // A new document after the restart is read in the same pass over the folder as a and b
    // would be: once it is in, a restart that read them again would have done so by now.
    writeFileSync(path.join(dir, 'c.json'), doc(4));
    run(h, { path: path.join(dir, '*'), format: 'senseye-json', rotate_wait: 100 });
    await waitFor(() => h.readings.length >= 3, 'the new document');
    expect(h.values().sort()).toEqual([1, 2, 4]); // a restart reads nothing again
    writeFileSync(path.join(dir, 'a.json'), doc(3));
    await waitFor(() => h.readings.length === 4, 'the rewritten document');
    await h.stop();
    expect(h.values().sort()).toEqual([1, 2, 3, 4]);
  });

  it('reads a gzip file matching the glob whole, and not again after a restart', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'old.log.gz'), gzipSync(jsonl(0, 500) + jsonl(500, 1).trimEnd()));
    const h = new Harness();
    run(h, { path: path.join(dir, '*.log*') });
    await waitFor(() => h.readings.length === 501, 'the gzip file');
    await h.stop();
    run(h, { path: path.join(dir, '*.log*') });
    writeFileSync(path.join(dir, 'new.log'), jsonl(501, 1));
    // The scan that found new.log saw old.log.gz too: a second reading of it would have been
    // emitted (and committed: the harness commits at once) before new.log's line.
    await waitFor(() => h.readings.length === 502, 'a new plain file');
    await h.stop();
    expect(h.values()).toEqual(Array.from({ length: 502 }, (_, i) => i));
    unlinkSync(path.join(dir, 'old.log.gz'));
  });
});
