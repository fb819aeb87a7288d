/**
 * Groups split lines into chunk parts whose line numbers stay exact: parse-chunk numbers a
 * chunk's lines `firstLine + i` and gives refused lines their own number, so within one part
 * refused lines may only come before the lines. A refused line after lines starts a new part.
 */
import { overLongReason, type SplitItem } from './line-splitter.js';
import type { RefusedLine } from './source.js';

export interface ChunkPart {
  firstLine: number;
  lines: string[];
  refused: RefusedLine[];
  /** Input bytes the part stands for (newlines included). */
  bytes: number;
}

/** `nextLine` is the number the first item gets. */
export function chunkParts(items: readonly SplitItem[], nextLine: number, maxLineBytes: number): ChunkPart[] {
  const parts: ChunkPart[] = [];
  let part: ChunkPart = { firstLine: nextLine, lines: [], refused: [], bytes: 0 };
  let n = nextLine;
  for (const item of items) {
    if ('line' in item) {
      part.lines.push(item.line);
    } else {
      if (part.lines.length > 0) {
        parts.push(part);
        part = { firstLine: n, lines: [], refused: [], bytes: 0 };
      }
      part.refused.push({ line: n, raw: item.raw, reason: item.reason ?? overLongReason(item.bytes, maxLineBytes) });
      part.firstLine = n + 1;
    }
    part.bytes += item.bytes;
    n++;
  }
  if (part.lines.length > 0 || part.refused.length > 0) parts.push(part);
  return parts;
}

/** Number of input lines a part stands for. */
export function partLength(part: ChunkPart): number {
  return part.lines.length + part.refused.length;
}
