// utf8.ts and the line splitter (sockets, gzip files): a line that is not valid UTF-8 is refused
// with the offset of its first bad byte, never handed on with U+FFFD; a genuine U+FFFD passes.
import { describe, expect, it } from 'vitest';
import { LineSplitter, type SplitItem } from '../../src/sources/line-splitter.js';
import { firstInvalidUtf8, invalidUtf8Reason } from '../../src/sources/utf8.js';
import { prng } from '../helpers/prng.js';

const fatal = new TextDecoder('utf-8', { fatal: true });

function validByDecoder(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe('firstInvalidUtf8', () => {
  it('agrees with a fatal TextDecoder on random byte strings, and finds the first bad byte', () => {
    const rand = prng(15);
    const interesting = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f];
    const mismatches: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const len = 1 + Math.floor(rand() * 6);
      const bytes = Uint8Array.from({ length: len }, () => (rand() < 0.7 ? interesting[Math.floor(rand() * interesting.length)]! : Math.floor(rand() * 256)));
      const at = firstInvalidUtf8(bytes);
      const ok = validByDecoder(bytes);
      // Same verdict; and the prefix before the reported byte is valid.
      if ((at === -1) !== ok || (at !== -1 && !validByDecoder(bytes.subarray(0, at)))) {
        if (mismatches.length < 5) mismatches.push(`${Buffer.from(bytes).toString('hex')}: ${at} vs ${ok}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('refuses overlong forms, surrogates, code points above U+10FFFF and cut sequences', () => {
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf]))).toBe(1); // overlong "/"
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // U+D800 as UTF-8
    expect(firstInvalidUtf8(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0); // U+110000
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xe2, 0x82]))).toBe(2); // € cut short
    expect(firstInvalidUtf8(Buffer.from('ok € 🛠 \ufffd', 'utf8'))).toBe(-1);
  });

  it('words the reason with the byte offset in the line and in the file', () => {
    const bytes = Buffer.from([0x41, 0x42, 0xff, 0x43]);
    expect(invalidUtf8Reason(bytes, 0, 4, 100)).toBe(
      "invalid UTF-8 at byte 2 of the line (byte 102 of the file): FF 43; the record is not delivered, as decoding would alter it (fix the writer's encoding: input must be UTF-8)",
    );
    expect(invalidUtf8Reason(bytes, 1, 4)).toMatch(/^invalid UTF-8 at byte 1 of the line: FF 43;/);
  });
});

describe('LineSplitter and UTF-8', () => {
  function split(pushes: Buffer[]): SplitItem[] {
    const s = new LineSplitter(1024);
    const out: SplitItem[] = [];
    for (const p of pushes) s.push(p, out);
    s.end(out);
    return out;
  }

  it('refuses the line with a bad byte, with its offset, and hands on the lines around it unchanged', () => {
    const input = Buffer.concat([Buffer.from('good 1\n'), Buffer.from([0x62, 0x61, 0x64, 0x20, 0xc3, 0x28, 0x0a]), Buffer.from('good \ufffd 2\n')]);
    const out = split([input]);
    expect(out).toEqual([
      { line: 'good 1', bytes: 7 },
      { refused: true, bytes: 7, raw: 'bad \ufffd(', reason: expect.stringMatching(/^invalid UTF-8 at byte 4 of the line: C3 28;/) as unknown },
      { line: 'good \ufffd 2', bytes: 11 },
    ]);
  });

  it('a character split across two pushes is not a bad byte', () => {
    const euro = Buffer.from('€ ok\n', 'utf8');
    const out = split([euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)]);
    expect(out).toEqual([{ line: '€ ok', bytes: euro.length }]);
    // The first push alone is not valid UTF-8, but its complete lines are checked one by one.
    const two = Buffer.from('a\n€\n', 'utf8');
    expect(split([two.subarray(0, 3), two.subarray(3)])).toEqual([
      { line: 'a', bytes: 2 },
      { line: '€', bytes: 4 },
    ]);
  });

  it('refuses an unterminated last line that is not valid UTF-8', () => {
    const out = split([Buffer.from([0x6f, 0x6b, 0x0a, 0xff])]);
    expect(out[0]).toEqual({ line: 'ok', bytes: 3 });
    expect(out[1]).toMatchObject({ refused: true, bytes: 1, reason: expect.stringMatching(/^invalid UTF-8 at byte 0/) as unknown });
  });
});
