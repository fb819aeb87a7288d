// A connection makes one chunk of the lines all the reads of one event-loop turn brought (a busy
// socket delivers several reads in a row), in order, none twice; later reads make later chunks.
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FORMATS } from '../../src/parse/registry.js';
import { Connection } from '../../src/sources/socket/connection.js';
import { InFlightLimit, type LineChunk } from '../../src/sources/source.js';
import { waitFor } from '../helpers/wait.js';

describe('Connection', () => {
  it('hands the lines of one turn\'s reads out as one chunk, and a later turn\'s as the next', async () => {
    const socket = new PassThrough();
    const chunks: LineChunk[] = [];
    const limit = new InFlightLimit(4);
    const connection = new Connection(socket, 'test', {
      source: 's',
      lane: 0,
      limit,
      parserFactory: FORMATS.jsonl,
      parserOptions: {},
      maxLineBytes: 1024,
      maxPendingBytes: 1024 * 1024,
      idleTimeoutMs: 0,
      emit: (chunk) => {
        chunks.push(chunk);
        chunk.ack();
      },
      logger: pino({ level: 'silent' }),
    });
    const line = (i: number) => `{"sensor":"a","measure":"m","ts":"2026-01-01T00:00:00.${String(i).padStart(3, '0')}Z","value":${i}}\n`;
    // Three reads in one turn, each its own callback (microtasks run between them, as between
    // libuv's read callbacks), the middle one ending mid-line.
    const first = line(0) + line(1) + line(2) + line(3);
    for (const piece of [first.slice(0, 100), first.slice(100, 150), first.slice(150)]) setImmediate(() => socket.emit('data', Buffer.from(piece)));
    await waitFor(() => chunks.length >= 1, 'the first chunk');
    expect(chunks.map((c) => c.lines.length)).toEqual([4]);
    socket.emit('data', Buffer.from(line(4) + line(5)));
    await waitFor(() => chunks.length >= 2, 'the second chunk');
    expect(chunks.map((c) => [c.firstLine, c.lines.length])).toEqual([[1, 4], [5, 2]]);
    expect(chunks.flatMap((c) => c.lines)).toEqual([0, 1, 2, 3, 4, 5].map((i) => line(i).trimEnd()));
    expect(limit.count).toBe(0);
    await connection.close('test over');
  });
});
