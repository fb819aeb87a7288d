/**
 * What the file source knows about content it has read: the committed checkpoints of earlier
 * runs plus every position handed out since, keyed by checkpoint key, and findable by content
 * (head hash). Invariant: a position in the book is never behind what was handed to the
 * pipeline for that key, so a copy matched to it never re-reads lines already read.
 */
import type { FileCheckpoint } from '../../outbox/types.js';
import { decodeHashes, encodeHashes } from './fingerprint.js';

export interface Position {
  key: string;
  path: string;
  offset: number;
  line: number;
  headLen: number;
  head: string;
  /** Hash of the bytes before `offset`; null in checkpoints written before tails existed. */
  tail: string | null;
  parserState: string | null;
}

export function fromCheckpoint(c: FileCheckpoint): Position {
  const { head, tail } = decodeHashes(c.headHash);
  return { key: c.fileKey, path: c.path, offset: c.offset, line: c.line, headLen: c.headLen, head, tail, parserState: c.parserState };
}

export function toCheckpoint(source: string, p: Position): Omit<FileCheckpoint, 'parserState'> {
  return { source, fileKey: p.key, path: p.path, offset: p.offset, line: p.line, headLen: p.headLen, headHash: encodeHashes(p.head, p.tail) };
}

/** Positions remembered per key besides the latest: a copy that ends between two of them still matches one. */
const HISTORY = 16;

export class PositionBook {
  private readonly byKey = new Map<string, Position>();
  private readonly history = new Map<string, Position[]>();
  /** Keys of files being followed right now (their content may still grow). */
  private readonly live = new Set<string>();
  /**
   * The positions that can match a copy, by head length and hash, each with how many times it is
   * held (latest and history may hold the same object): finding a copy's candidates must not
   * cost a walk over every position (20,000 files made opening each file O(files)).
   */
  private readonly byHead = new Map<string, Map<Position, number>>();
  private readonly headLens = new Map<number, number>();

  constructor(checkpoints: readonly FileCheckpoint[]) {
    for (const c of checkpoints) this.setLatest(c.fileKey, fromCheckpoint(c));
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Position | undefined {
    return this.byKey.get(key);
  }

  /** A position handed out (or loaded); the latest per key is what a restart would resume from. */
  record(p: Position): void {
    this.setLatest(p.key, p);
    if (p.tail === null) return;
    let list = this.history.get(p.key);
    if (list === undefined) this.history.set(p.key, (list = []));
    list.push(p);
    this.index(p, 1);
    if (list.length > HISTORY) this.index(list.shift()!, -1);
  }

  /**
   * The content followed under `key` was replaced (truncation): what was read of it moves to
   * `retired:<key>:<head>`, no longer live, so a copy of it is matched instead of deferred.
   * One retired entry per content (head), so several rotations' copies all stay matchable.
   */
  retire(key: string): Position | undefined {
    const latest = this.byKey.get(key);
    const list = this.history.get(key) ?? (latest !== undefined && latest.tail !== null ? [latest] : []);
    this.setHistory(key, undefined);
    this.setLatest(key, undefined);
    const last = list[list.length - 1];
    if (last === undefined) return undefined;
    const retiredKey = `retired:${key}:${last.head.slice(0, 16)}`;
    const old = list.map((p) => ({ ...p, key: retiredKey }));
    this.setHistory(retiredKey, old);
    this.setLatest(retiredKey, old[old.length - 1]!);
    return old[old.length - 1];
  }

  all(): IterableIterator<Position> {
    return this.byKey.values();
  }

  setLive(key: string, live: boolean): void {
    if (live) this.live.add(key);
    else this.live.delete(key);
  }

  isLive(key: string): boolean {
    return this.live.has(key);
  }

  /** Distinct head lengths of positions that can match a copy (they have a tail hash). */
  headLengths(): number[] {
    return [...this.headLens.keys()].sort((a, b) => a - b);
  }

  /** Positions whose content starts with these bytes (same head length and hash). */
  withHead(headLen: number, head: string): Position[] {
    return [...(this.byHead.get(`${headLen}:${head}`)?.keys() ?? [])];
  }

  private setLatest(key: string, p: Position | undefined): void {
    const old = this.byKey.get(key);
    if (old !== undefined && old.tail !== null) this.index(old, -1);
    if (p === undefined) {
      this.byKey.delete(key);
      return;
    }
    this.byKey.set(key, p);
    if (p.tail !== null) this.index(p, 1);
  }

  private setHistory(key: string, list: Position[] | undefined): void {
    for (const p of this.history.get(key) ?? []) this.index(p, -1);
    if (list === undefined) {
      this.history.delete(key);
      return;
    }
    this.history.set(key, list);
    for (const p of list) this.index(p, 1);
  }

  /** Counts a position that can match a copy in (or out of) the head index. */
  private index(p: Position, delta: 1 | -1): void {
    if (p.headLen <= 0) return;
    const k = `${p.headLen}:${p.head}`;
    let held = this.byHead.get(k);
    if (held === undefined) this.byHead.set(k, (held = new Map()));
    const n = (held.get(p) ?? 0) + delta;
    if (n > 0) held.set(p, n);
    else held.delete(p);
    if (held.size === 0) this.byHead.delete(k);
    const lens = (this.headLens.get(p.headLen) ?? 0) + delta;
    if (lens > 0) this.headLens.set(p.headLen, lens);
    else this.headLens.delete(p.headLen);
  }
}
