// copytruncate under a busy writer can truncate and rewrite a file between the tailer's stat
// (which sizes the read) and its read, so the read returns bytes of the new content at the old
// offset. Those bytes must never be emitted as lines of the old content: the tailer notices the
// replaced head, retires the old position and reads the new content from its start. The race
// is forced here deterministically: a real file and a real handle, replaced inside the read.
import { appendFileSync, truncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FORMATS } from '../../src/parse/registry.js';
import { FileTailer } from '../../src/sources/file/tailer.js';
import type { Position } from '../../src/sources/file/positions.js';
import { InFlightLimit, type LineChunk } from '../../src/sources/source.js';
import { tempDir } from '../helpers/tmp.js';

const line = (i: number): string => JSON.stringify({ sensor: 's', measure: 'm', ts: new Date(Date.UTC(2026, 10, 27) + i * 1000).toISOString(), value: i }) + '\n';
const lines = (from: number, to: number): string => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');

/** A line's value, or the line itself when it is not whole JSON (a torn line), for a readable failure. */
function valueOrRaw(l: string): number | string {
  try {
    return (JSON.parse(l) as { value: number }).value;
  } catch {
    return l;
  }
}

/** The handle, except that its next read at `offset` first replaces the file (truncate, then the writer's next lines). */
function replacingOnReadAt(handle: FileHandle, file: string, offset: number, rewrite: string): { handle: FileHandle; armed: () => void } {
  let armed = false;
  const proxy = new Proxy(handle, {
    get(target, prop, receiver) {
      if (prop === 'read') {
        return async (...args: unknown[]) => {
          if (armed && args[3] === offset) {
            armed = false;
            truncateSync(file, 0);
            appendFileSync(file, rewrite);
          }
          return (target.read as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { handle: proxy, armed: () => (armed = true) };
}

describe('file tailer, content replaced during a read', () => {
  it('drops the torn bytes, retires the old position and reads the new content from its start', async () => {
    const file = path.join(tempDir('senseye-torn-read-'), 'app.log');
    appendFileSync(file, lines(0, 30));
    const real = await open(file, 'r');
    // The new content is longer than the position: the torn read would return its tail end.
    const { handle, armed } = replacingOnReadAt(real, file, Buffer.byteLength(lines(0, 30)), lines(100, 160));
    const chunks: LineChunk[] = [];
    const positions: Position[] = [];
    const retired: Position[] = [];
    const limit = new InFlightLimit(1000);
    const tailer = new FileTailer({
      source: 'rot',
      lane: 0,
      path: file,
      fileKey: 'k',
      handle,
      start: { offset: 0, line: 0, parserState: null },
      parserFactory: FORMATS.jsonl,
      parserOptions: {},
      limit,
      emit: (chunk) => chunks.push(chunk),
      logger: pino({ level: 'silent' }),
      onPosition: (p) => positions.push(p),
      onRetire: () => {
        const last = positions[positions.length - 1];
        if (last !== undefined) retired.push(last);
        return last;
      },
    });
    try {
      await tailer.readAvailable(() => false);
      const firstRead = chunks.flatMap((c) => c.lines);
      expect(firstRead).toHaveLength(30);

      appendFileSync(file, lines(30, 70)); // the writer goes on; then copytruncate strikes mid-read
      armed();
      await tailer.readAvailable(() => false);

      const values = chunks.flatMap((c) => c.lines).map(valueOrRaw);
      expect(values, 'only whole lines of either content, the old then the new from its start').toEqual([
        ...Array.from({ length: 30 }, (_, i) => i),
        ...Array.from({ length: 60 }, (_, i) => 100 + i),
      ]);
      expect(chunks.flatMap((c) => c.refused ?? []), 'no torn line refused').toEqual([]);
      expect(retired.map((p) => p.offset), 'the old content kept where it was left, for its copy').toEqual([Buffer.byteLength(lines(0, 30))]);
      expect(tailer.position).toEqual({ offset: Buffer.byteLength(lines(100, 160)), line: 60 });
    } finally {
      await real.close();
    }
  });
});
