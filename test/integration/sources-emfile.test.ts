// Out of file descriptors is backpressure, never a failed file: open() and readdir() are made to
// fail with EMFILE (the one seam faked here; the files, folders and sources are real). The file
// and spool sources leave the file for later and read it once descriptors are back — every
// line once, no file_open_failed, nothing moved to failed/ — and an incomplete listing neither
// says "no file matches" nor lets go of the files it lacks. Logged once (rate-limited), counted.
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { fileSource, spoolSource } from '../../src/config/sources-schema.js';
import { openFileStats } from '../../src/sources/descriptors.js';
import { createSource } from '../../src/sources/registry.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness } from './sources-harness.js';

/** How many more open() / readdir() calls under `under` fail with EMFILE. */
const fail = vi.hoisted(() => ({ under: '', opens: 0, readdirs: 0 }));

function emfile(p: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EMFILE: too many open files, open '${p}'`), { code: 'EMFILE', errno: -24 });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open = (async (file: Parameters<typeof real.open>[0], ...rest: unknown[]) => {
    if (fail.under !== '' && String(file).startsWith(fail.under) && fail.opens > 0) {
      fail.opens--;
      throw emfile(String(file));
    }
    return (real.open as (...a: unknown[]) => ReturnType<typeof real.open>)(file, ...rest);
  }) as typeof real.open;
  return { ...real, default: { ...real, open }, open };
});

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const readdir = ((dir: string, ...rest: unknown[]) => {
    if (fail.under !== '' && String(dir).startsWith(fail.under) && fail.readdirs > 0) {
      fail.readdirs--;
      const callback = rest.pop() as (err: NodeJS.ErrnoException | null, files?: unknown) => void;
      process.nextTick(() => callback(emfile(String(dir))));
      return;
    }
    return (real.readdir as (...a: unknown[]) => void)(dir, ...rest);
  }) as typeof real.readdir;
  return { ...real, default: { ...real, readdir }, readdir };
});

const T0 = Date.UTC(2026, 10, 27, 8);

function jsonl(from: number, n: number): string {
  let text = '';
  for (let i = from; i < from + n; i++) text += JSON.stringify({ sensor: 's', measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
  return text;
}

function recordingLogger() {
  const events: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void events.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, events };
}

function expectOnce(values: Array<number | string | boolean>, n: number): void {
  const sorted = values.map(Number).sort((a, b) => a - b);
  expect(sorted).toEqual(Array.from({ length: n }, (_, i) => i));
}

const exhaustedOf = (source: string) => openFileStats().find((s) => s.source === source)?.exhausted ?? 0;

describe('out of file descriptors', () => {
  it('file source: open() failing with EMFILE leaves files queued, read once descriptors are back', async () => {
    const dir = tempDir('senseye-emfile-');
    for (let i = 0; i < 20; i++) writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}.log`), jsonl(i, 1));
    Object.assign(fail, { under: dir, opens: 30, readdirs: 0 });
    const h = new Harness();
    const { logger, events } = recordingLogger();
    const config = fileSource.parse({ name: 'emfile-files', type: 'file', path: path.join(dir, '*.log'), format: 'jsonl', poll_interval: 10, refresh_interval: 20 });
    h.start(createSource(config, { lane: 0, checkpoints: [], logger }));
    await waitFor(() => h.readings.length === 20, 'every file read after the EMFILE failures');
    await h.stop();
    expect(fail.opens).toBe(0);
    expectOnce(h.values(), 20);
    expect(exhaustedOf('emfile-files')).toBe(30);
    expect(events.filter((e) => e.event === 'descriptors_exhausted')).toHaveLength(1); // rate-limited
    expect(events.find((e) => e.event === 'descriptors_exhausted')).toMatchObject({ code: 'EMFILE', level: 40 });
    expect(events.filter((e) => e.event === 'file_open_failed' || e.event === 'source_waiting')).toEqual([]);
  });

  it('file source: a listing cut short by EMFILE is not "no file matches" and does not let go of followed files', async () => {
    const dir = tempDir('senseye-emfile-');
    const file = path.join(dir, 'a.log');
    writeFileSync(file, jsonl(0, 5));
    Object.assign(fail, { under: dir, opens: 0, readdirs: 0 });
    const h = new Harness();
    const { logger, events } = recordingLogger();
    const config = fileSource.parse({ name: 'emfile-list', type: 'file', path: path.join(dir, '*.log'), format: 'jsonl', poll_interval: 10, refresh_interval: 20, rotate_wait: 30 });
    h.start(createSource(config, { lane: 0, checkpoints: [], logger }));
    await waitFor(() => h.readings.length === 5, 'the file read');
    fail.readdirs = 10; // ten looks at the folder fail: longer than rotate_wait
    await waitFor(() => fail.readdirs === 0, 'the failing listings');
    appendFileSync(file, jsonl(5, 5));
    await waitFor(() => h.readings.length === 10, 'lines appended after the failing listings');
    await h.stop();
    expectOnce(h.values(), 10);
    expect(exhaustedOf('emfile-list')).toBe(10);
    expect(events.filter((e) => ['source_waiting', 'file_released', 'file_open_failed', 'glob_failed'].includes(String(e.event)))).toEqual([]);
  });

  it('spool source: EMFILE at open or while listing leaves the files in the folder, ingested later, none in failed/', async () => {
    const dir = tempDir('senseye-emfile-');
    const spool = path.join(dir, 'drop');
    mkdirSync(spool);
    for (let i = 0; i < 10; i++) writeFileSync(path.join(spool, `d${i}.jsonl`), jsonl(i, 1));
    Object.assign(fail, { under: spool, opens: 6, readdirs: 2 });
    const h = new Harness();
    const { logger, events } = recordingLogger();
    const config = spoolSource.parse({ name: 'emfile-spool', type: 'spool', path: spool, format: 'jsonl', poll_interval: 10 });
    h.start(createSource(config, { lane: 0, checkpoints: [], logger }));
    await waitFor(() => h.readings.length === 10 && readdirSync(spool).length === 0, 'every spool file ingested and deleted');
    await h.stop();
    expectOnce(h.values(), 10);
    expect(existsSync(path.join(spool, 'failed'))).toBe(false);
    expect(exhaustedOf('emfile-spool')).toBe(8);
    expect(events.filter((e) => e.event === 'spool_file_failed' || e.event === 'source_waiting')).toEqual([]);
    expect(events.filter((e) => e.event === 'descriptors_exhausted')).toHaveLength(1);
  });
});
