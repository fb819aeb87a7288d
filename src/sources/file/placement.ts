/**
 * Where to start reading a file the source is not following yet. In order:
 * 1. its identity (device:inode) has a position and its first bytes still hash the same and
 *    it is not shorter: continue there (a restart, a file renamed while the agent was down);
 * 2. its content starts like content already read and holds the same bytes just before that
 *    position (a copy: copytruncate's copy, a gzip of a rotated file): continue at the furthest
 *    such position — unless that content is still being followed in another file, then wait;
 * 3. its first bytes are those of a file being followed but it is shorter than what was read
 *    of that one: probably a copy still being written (copytruncate's `cp`): wait, but only
 *    while it keeps growing (`patient`); a file that stays so is then taken as new;
 * 4. otherwise it is new: from its start (or its end, for `start_at: end` at a first run).
 * When (1) fails because the content was replaced, the old position is reported for retiring.
 */
import type { FileHandle } from 'node:fs/promises';
import { readHead, readTail } from './fingerprint.js';
import type { Position, PositionBook } from './positions.js';
import { probeGzip } from './gzip-reader.js';

export type Placement =
  | { kind: 'resume'; position: Position; how: 'identity' | 'content' }
  | { kind: 'new'; offset: number }
  | { kind: 'defer'; followedAs: string; maybeCopy?: boolean };

export interface PlaceInput {
  key: string;
  size: number;
  handle: FileHandle;
  book: PositionBook;
  startAtEnd: boolean;
  /** Wait for a file that may be a copy still being written (rule 3). */
  patient: boolean;
}

export async function placeFile(input: PlaceInput): Promise<{ placement: Placement; replaced: boolean }> {
  const { key, size, handle, book } = input;
  const saved = book.get(key);
  let replaced = false;
  if (saved !== undefined) {
    const head = await readHead(handle, saved.headLen);
    if (head.len === saved.headLen && head.hash === saved.head && saved.offset <= size) {
      return { placement: { kind: 'resume', position: saved, how: 'identity' }, replaced };
    }
    replaced = true;
  }
  const { matches, growingCopyOf } = await contentMatches(handle, size, book, key);
  const live = matches.find((p) => book.isLive(p.key));
  if (live !== undefined) return { placement: { kind: 'defer', followedAs: live.path }, replaced };
  if (matches.length > 0) {
    const furthest = matches.reduce((a, b) => (b.offset > a.offset ? b : a));
    return { placement: { kind: 'resume', position: furthest, how: 'content' }, replaced };
  }
  if (input.patient && growingCopyOf !== undefined) {
    return { placement: { kind: 'defer', followedAs: growingCopyOf.path, maybeCopy: true }, replaced };
  }
  return { placement: { kind: 'new', offset: input.startAtEnd ? await lastLineStart(handle, size) : 0 }, replaced };
}

/**
 * Known positions this file's content reproduces (same head, same bytes just before the
 * position), and a followed file it starts like but is shorter than, if any.
 */
async function contentMatches(
  handle: FileHandle,
  size: number,
  book: PositionBook,
  ownKey: string,
): Promise<{ matches: Position[]; growingCopyOf: Position | undefined }> {
  const out: Position[] = [];
  let growingCopyOf: Position | undefined;
  for (const len of book.headLengths()) {
    if (len > size) continue;
    const head = await readHead(handle, len);
    if (head.len !== len) continue;
    const tails = new Map<number, string>();
    for (const p of book.withHead(len, head.hash)) {
      if (p.key !== ownKey && p.offset > size && book.isLive(p.key)) growingCopyOf = p;
      if (p.key === ownKey || p.offset > size || p.tail === null) continue;
      let tail = tails.get(p.offset);
      if (tail === undefined) tails.set(p.offset, (tail = await readTail(handle, p.offset)));
      if (tail === p.tail) out.push(p);
    }
  }
  return { matches: out, growingCopyOf };
}

/** Offset just after the last complete line, so the first line read is a whole one. */
async function lastLineStart(handle: FileHandle, size: number): Promise<number> {
  const window = Math.min(size, 64 * 1024);
  const buffer = Buffer.alloc(window);
  await handle.read(buffer, 0, window, size - window);
  const nl = buffer.lastIndexOf(0x0a);
  return nl === -1 ? (size === window ? 0 : size) : size - window + nl + 1;
}

/**
 * The same decision for a gzip file, on its decompressed content: its own `gz:` key first
 * (confirmed by the decompressed head), then content it reproduces, else new (from 0).
 */
export async function placeGzip(handle: FileHandle, gzKey: string, book: PositionBook): Promise<Placement> {
  const own = book.get(gzKey);
  const headLens = new Set(book.headLengths());
  if (own !== undefined && own.headLen > 0) headLens.add(own.headLen);
  const probe = await probeGzip(handle, [...headLens], (heads) => {
    const offsets: number[] = [];
    for (const [len, hash] of heads) for (const p of book.withHead(len, hash)) offsets.push(p.offset);
    return offsets;
  });
  const matches: Position[] = [];
  for (const [len, hash] of probe.heads) {
    for (const p of book.withHead(len, hash)) if (p.key !== gzKey && probe.tails.get(p.offset) === p.tail) matches.push(p);
  }
  const live = matches.find((p) => book.isLive(p.key));
  if (live !== undefined) return { kind: 'defer', followedAs: live.path };
  if (own !== undefined && (own.headLen === 0 || probe.heads.get(own.headLen) === own.head)) matches.push(own);
  if (matches.length === 0) return { kind: 'new', offset: 0 };
  const furthest = matches.reduce((a, b) => (b.offset > a.offset ? b : a));
  return { kind: 'resume', position: furthest, how: furthest === own ? 'identity' : 'content' };
}
