import { describe, expect, it } from 'vitest';
import { chunkParts } from '../../src/sources/chunk-parts.js';
import { decodeLines, DECODE_PIECE_BYTES, splitLines } from '../../src/sources/file/tailer.js';
import { LineSplitter, type SplitItem } from '../../src/sources/line-splitter.js';
import { prng } from '../helpers/prng.js';
import { parseListen } from '../../src/config/listen-address.js';

describe('LineSplitter', () => {
  it('cuts lines across pushes, keeps a split UTF-8 character whole, and drops \\r', () => {
    const s = new LineSplitter(1024);
    const out: SplitItem[] = [];
    const text = Buffer.from('a€b\r\nsecond line\nthi');
    s.push(text.subarray(0, 2), out); // "a" and the first byte of "€"
    s.push(text.subarray(2), out);
    expect(out).toEqual([
      { line: 'a€b', bytes: 7 },
      { line: 'second line', bytes: 12 },
    ]);
    expect(s.consumed).toBe(19);
    expect(s.pendingBytes).toBe(3);
    s.end(out);
    expect(out[2]).toEqual({ line: 'thi', bytes: 3 });
    expect(s.consumed).toBe(22);
  });

  it('refuses a line over the limit without holding it, keeping its first 4 KiB', () => {
    const s = new LineSplitter(1024);
    const out: SplitItem[] = [];
    s.push(Buffer.from('ok\n' + 'x'.repeat(3000)), out);
    expect(s.pendingBytes).toBe(3000);
    s.push(Buffer.from('y'.repeat(3000)), out);
    s.push(Buffer.from('zz\nnext\n'), out);
    expect(out).toEqual([
      { line: 'ok', bytes: 3 },
      { refused: true, bytes: 6003, raw: 'x'.repeat(3000) + 'y'.repeat(1096) },
      { line: 'next', bytes: 5 },
    ]);
  });

  it('hands over the unfinished line when a connection ends', () => {
    const s = new LineSplitter(1024);
    s.push(Buffer.from('half a li'), []);
    expect(s.takePending()).toEqual({ raw: 'half a li', bytes: 9 });
    expect(s.takePending()).toBeNull();
  });
});

describe('decodeLines', () => {
  it('gives the lines of the whole chunk decoded at once, for chunks cut into pieces anywhere', () => {
    // Seeded: empty lines, \r\n, multi-byte characters, lines longer than a piece, runs of
    // newlines where pieces are cut. A failure names the seed that replays it.
    const words = ['', 'x', '{"sensor":"a","v":1}', 'Temperatur °C ✓ 🙂', '\r', 'y'.repeat(DECODE_PIECE_BYTES + 17), 'z'.repeat(DECODE_PIECE_BYTES - 1)];
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      const parts: string[] = [];
      let size = 0;
      while (size < 3 * DECODE_PIECE_BYTES * random() + 10) {
        const w = words[Math.floor(random() * words.length)]!;
        parts.push(w);
        size += w.length + 1;
      }
      const bytes = Buffer.from(`${parts.join('\n')}\n`);
      const end = bytes.length - 1; // the last newline, as the tailer hands it over
      expect({ seed, lines: decodeLines(bytes, end) }).toEqual({ seed, lines: splitLines(bytes.toString('utf8', 0, end)) });
    }
  });
});

describe('chunkParts', () => {
  it('starts a new part at a refused line that follows lines, so line numbers stay exact', () => {
    const items: SplitItem[] = [
      { line: 'a', bytes: 2 },
      { refused: true, bytes: 5000, raw: 'r' },
      { line: 'b', bytes: 2 },
      { line: 'c', bytes: 2 },
    ];
    const parts = chunkParts(items, 10, 1024);
    expect(parts.map((p) => [p.firstLine, p.lines, p.refused.map((r) => r.line), p.bytes])).toEqual([
      [10, ['a'], [], 2],
      [12, ['b', 'c'], [11], 5004],
    ]);
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8094', { host: '127.0.0.1', port: 8094 }],
    [':8094', { host: '127.0.0.1', port: 8094 }],
    ['8094', { host: '127.0.0.1', port: 8094 }],
    [8094, { host: '127.0.0.1', port: 8094 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['edge-gw.local:9000', { host: 'edge-gw.local', port: 9000 }],
  ])('%s', (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });

  it.each(['', 'host', 'host:', '1.2.3.4:99999', '::1:9000'])('refuses %s', (text) => {
    expect(typeof parseListen(text)).toBe('string');
  });
});
