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

  constructor(checkpoints: readonly FileCheckpoint[]) {
    for (const c of checkpoints) this.byKey.set(c.fileKey, fromCheckpoint(c));
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Position | undefined {
    return this.byKey.get(key);
  }

  /** A position handed out (or loaded); the latest per key is what a restart would resume from. */
  record(p: Position): void {
    this.byKey.set(p.key, p);
    if (p.tail === null) return;
    let list = this.history.get(p.key);
    if (list === undefined) this.history.set(p.key, (list = []));
    list.push(p);
    if (list.length > HISTORY) list.shift();
  }

  /**
   * The content followed under `key` was replaced (truncation): what was read of it moves to
   * `retired:<key>:<head>`, no longer live, so a copy of it is matched instead of deferred.
   * One retired entry per content (head), so several rotations' copies all stay matchable.
   */
  retire(key: string): Position | undefined {
    const latest = this.byKey.get(key);
    const list = this.history.get(key) ?? (latest !== undefined && latest.tail !== null ? [latest] : []);
    this.history.delete(key);
    this.byKey.delete(key);
    const last = list[list.length - 1];
    if (last === undefined) return undefined;
    const retiredKey = `retired:${key}:${last.head.slice(0, 16)}`;
    const old = list.map((p) => ({ ...p, key: retiredKey }));
    this.history.set(retiredKey, old);
    this.byKey.set(retiredKey, old[old.length - 1]!);
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
    const lens = new Set<number>();
    for (const p of this.candidates()) lens.add(p.headLen);
    return [...lens].sort((a, b) => a - b);
  }

  /** Positions whose content starts with these bytes (same head length and hash). */
  withHead(headLen: number, head: string): Position[] {
    return this.candidates().filter((p) => p.headLen === headLen && p.head === head);
  }

  private candidates(): Position[] {
    const out: Position[] = [];
    for (const p of this.byKey.values()) if (p.tail !== null && p.headLen > 0) out.push(p);
    for (const list of this.history.values()) for (const p of list) if (p.headLen > 0) out.push(p);
    return out;
  }
}
