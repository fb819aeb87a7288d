// The file source under a cap on open files (max_open_files), in-process against the stand-in
// outbox (sources-harness.ts): a file at its end is closed to make room, and found again by its
// identity when it grows — read from its position (no line twice, none lost), also when it was
// renamed (inside or out of the globs) while closed. The descriptors held are counted for real,
// from /proc/self/fd.
import { appendFileSync, readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../src/config/sources-schema.js';
import { FileSource } from '../../src/sources/file/file-source.js';
import { parserOptionsOf } from '../../src/sources/parser-options.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness } from './sources-harness.js';

const T0 = Date.UTC(2026, 10, 27, 8);

function jsonl(from: number, n: number, sensor = 's'): string {
  let text = '';
  for (let i = from; i < from + n; i++) text += JSON.stringify({ sensor, measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
  return text;
}

/** A logger whose events the test can read. */
function recordingLogger() {
  const events: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, events };
}

function run(h: Harness, settings: Record<string, unknown>, opts: { idleCloseMs?: number; logger?: pino.Logger } = {}): FileSource {
  const config = fileSource.parse({ name: 'fd', type: 'file', format: 'jsonl', poll_interval: 10, refresh_interval: 20, rotate_wait: 50, ...settings });
  const source = new FileSource({
    config,
    lane: 0,
    checkpoints: h.savedCheckpoints(),
    logger: opts.logger ?? pino({ level: 'silent' }),
    parserOptions: parserOptionsOf(config),
    idleCloseMs: opts.idleCloseMs,
  });
  h.start(source);
  return source;
}

/** Descriptors this process holds open on files in `dir`, read from /proc/self/fd. */
function openIn(dir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir + path.sep)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function expectOnce(values: Array<number | string | boolean>, n: number): void {
  const sorted = values.map(Number).sort((a, b) => a - b);
  expect(sorted.length, 'no line twice').toBe(new Set(sorted).size);
  expect(sorted).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe('file source with a cap on open files', () => {
  it('a closed file that grows later is found again by identity and read on from its position', async () => {
    const dir = tempDir('senseye-fd-');
    const a = path.join(dir, 'a.log');
    const b = path.join(dir, 'b.log');
    writeFileSync(a, jsonl(0, 10));
    writeFileSync(b, jsonl(10, 10));
    const h = new Harness();
    const { logger, events } = recordingLogger();
    run(h, { path: path.join(dir, '*.log'), max_open_files: 1 }, { logger });
    await waitFor(() => h.readings.length === 20, 'both files read, one at a time');
    // a.log was read first, then closed at its end to make room for b.log.
    expect(events.some((e) => e.event === 'file_closed_idle' && e.path === a)).toBe(true);
    appendFileSync(a, jsonl(20, 5)); // grows while closed
    await waitFor(() => h.readings.length === 25, 'the lines appended while a.log was closed');
    appendFileSync(b, jsonl(25, 5));
    await waitFor(() => h.readings.length === 30, 'b.log grown too');
    const reopened = events.filter((e) => e.event === 'file_opened' && e.path === a);
    expect(reopened.length).toBeGreaterThanOrEqual(2);
    expect(reopened.at(-1)).toMatchObject({ how: 'identity', offset: jsonl(0, 10).length, line: 10 });
    await waitFor(() => openIn(dir) <= 1 && h.current?.isCaughtUp(), 'at most one file open');
    await h.stop();
    // A restart from the committed positions reads nothing again.
    run(h, { path: path.join(dir, '*.log'), max_open_files: 1 });
    await waitFor(() => h.current?.isCaughtUp(), 'the restarted source at the ends of both files');
    await h.stop();
    expectOnce(h.values(), 30);
    expect(h.dead).toEqual([]);
    expect(events.filter((e) => e.event === 'file_open_failed' || e.event === 'source_waiting')).toEqual([]);
  });

  it('a file closed at its end and renamed inside the globs, or rotated out of them, is found by identity', async () => {
    const dir = tempDir('senseye-fd-');
    const live = path.join(dir, 'app.log');
    writeFileSync(live, jsonl(0, 10));
    const h = new Harness();
    const { logger, events } = recordingLogger();
    // Every file at its end is closed at once (idle time 0): the renames below happen while it is closed.
    run(h, { path: [live, path.join(dir, 'kept-*.log')], max_open_files: 2 }, { idleCloseMs: 0, logger });
    await waitFor(() => h.readings.length === 10, 'app.log read');
    await waitFor(() => events.some((e) => e.event === 'file_closed_idle' && e.path === live), 'app.log closed at its end');
    // Renamed to a name the globs match, and grown: the same identity, read on from its position.
    appendFileSync(live, jsonl(10, 5));
    renameSync(live, path.join(dir, 'kept-1.log'));
    writeFileSync(live, jsonl(15, 5));
    await waitFor(() => h.readings.length === 20, 'the renamed file and the new app.log');
    await waitFor(() => events.filter((e) => e.event === 'file_closed_idle' && e.path === live).length >= 2, 'the new app.log closed');
    // Rotated out of the globs while closed, with lines written just before the rotation.
    appendFileSync(live, jsonl(20, 5));
    renameSync(live, path.join(dir, 'app.log.1'));
    writeFileSync(live, jsonl(25, 5));
    await waitFor(() => h.readings.length === 30, 'the rotated file found in its folder, and the new app.log');
    expect(events.some((e) => e.event === 'file_found_rotated' && e.path === path.join(dir, 'app.log.1'))).toBe(true);
    await h.stop();
    expectOnce(h.values(), 30);
    expect(h.dead).toEqual([]);
  });

  it('many files under a low cap: each read once, never more than max_open_files open', async () => {
    const dir = tempDir('senseye-fd-');
    const N = 300;
    for (let i = 0; i < N; i++) writeFileSync(path.join(dir, `f${String(i).padStart(4, '0')}.log`), jsonl(i, 1));
    const h = new Harness();
    const { logger, events } = recordingLogger();
    run(h, { path: path.join(dir, '*.log'), max_open_files: 8 }, { logger });
    let maxOpen = 0;
    await waitFor(
      () => {
        maxOpen = Math.max(maxOpen, openIn(dir));
        return h.readings.length === N;
      },
      `${N} files read`,
      { timeoutMs: 30_000, intervalMs: 5 },
    );
    // Lines appended to files closed long ago are read too.
    for (let i = 0; i < 5; i++) appendFileSync(path.join(dir, `f${String(i * 50).padStart(4, '0')}.log`), jsonl(N + i, 1));
    await waitFor(() => h.readings.length === N + 5, 'appended lines');
    await h.stop();
    expect(maxOpen).toBeGreaterThan(0);
    expect(maxOpen).toBeLessThanOrEqual(8);
    expect(openIn(dir)).toBe(0);
    expectOnce(h.values(), N + 5);
    expect(events.some((e) => e.event === 'files_queued')).toBe(true);
    expect(events.filter((e) => e.event === 'file_open_failed' || e.event === 'source_waiting')).toEqual([]);
  });

  it('a backfill (finish) flushes the unterminated last line of a file closed at its end', async () => {
    const dir = tempDir('senseye-fd-');
    writeFileSync(path.join(dir, 'a.log'), jsonl(0, 3) + jsonl(3, 1).trimEnd());
    writeFileSync(path.join(dir, 'b.log'), jsonl(4, 3));
    const h = new Harness();
    const source = run(h, { path: path.join(dir, '*.log'), max_open_files: 1 });
    await waitFor(() => h.readings.length === 6 && source.isCaughtUp(), 'complete lines of both files');
    await source.finish();
    h.commit();
    expectOnce(h.values(), 7);
  });
});
