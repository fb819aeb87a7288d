/**
 * Input is UTF-8, and a record is delivered only as it was written: bytes that are not valid
 * UTF-8 would decode to U+FFFD, an altered record, so such a line is refused (dead-lettered
 * with the byte offset of the first bad byte) instead. A genuine U+FFFD in the input (EF BF BD)
 * is valid UTF-8 and goes through unchanged.
 *
 * Cost: sources check a whole chunk once with `isUtf8` (node:buffer, SIMD); only a chunk that
 * fails is looked at line by line, and only a line that fails is scanned for the offset.
 */
import { isUtf8 } from 'node:buffer';

export { isUtf8 };

/** Every dead letter for bad UTF-8 starts so (dlq replay recognises them by it). */
export const INVALID_UTF8 = 'invalid UTF-8';

/**
 * Offset (from `start`) of the first byte of `bytes[start, end)` that is not part of a valid
 * UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or -1.
 */
export function firstInvalidUtf8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i - start;
    if (i + need >= end) return i - start; // cut short at the end
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i - start;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i - start;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * The dead letter's reason for a line `bytes[start, end)` that is not valid UTF-8;
 * `fileOffset` is where the line starts in its file, when there is one.
 */
export function invalidUtf8Reason(bytes: Uint8Array, start: number, end: number, fileOffset?: number, unit: 'line' | 'document' = 'line'): string {
  const at = Math.max(0, firstInvalidUtf8(bytes, start, end));
  const shown = Array.from(bytes.subarray(start + at, Math.min(end, start + at + 4)), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  const where = fileOffset === undefined || unit === 'document' ? '' : ` (byte ${fileOffset + at} of the file)`;
  return `${INVALID_UTF8} at byte ${at} of the ${unit}${where}: ${shown}; the record is not delivered, as decoding would alter it (fix the writer's encoding: input must be UTF-8)`;
}
