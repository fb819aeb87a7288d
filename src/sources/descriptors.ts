/**
 * How many file descriptors the agent's file and spool sources may hold open, so that the
 * outbox (SQLite: database, WAL, shared memory, in the main thread and the planner worker),
 * the hub connections, the health endpoint, socket sources and Node itself always find one.
 *
 * Invariant: the descriptors all file-reading sources hold together never exceed
 * `processBudget.total` = RLIMIT_NOFILE (soft) minus a reserve, and one source never holds more
 * than its own cap (`max_open_files`). A source that finds no free slot leaves the file for
 * later — it is never dropped and never marked failed; so is one whose open() still meets
 * EMFILE/ENFILE (another part of the process, or the whole system, ran out): that is
 * backpressure, counted (`exhausted`) and logged at most once per LOG_EVERY_MS per source.
 *
 * Node has no getrlimit(): the limit is read from /proc/self/limits ("Max open files"); where
 * that file does not exist the limit is taken to be FALLBACK_LIMIT.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

/** Assumed soft limit where /proc/self/limits cannot be read (macOS shells default to 256). */
export const FALLBACK_LIMIT = 256;
/** Fewest descriptors left to the rest of the agent. */
export const MIN_RESERVE = 64;
/** Most descriptors kept back (with a high limit, half of it would waste most of it). */
export const MAX_RESERVE = 1024;
/** File sources always get at least this many, even under a tiny limit (EMFILE is backpressure then). */
const MIN_FILE_BUDGET = 4;
const LOG_EVERY_MS = 30_000;

/** The soft "Max open files" from the text of /proc/<pid>/limits; null when absent; Infinity when unlimited. */
export function parseOpenFileLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return null;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return Infinity;
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : null;
}

export function readOpenFileLimit(): { limit: number; from: 'proc' | 'fallback' } {
  try {
    const limit = parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
    if (limit !== null) return { limit, from: 'proc' };
  } catch {
    // not Linux (or no /proc): fall back
  }
  return { limit: FALLBACK_LIMIT, from: 'fallback' };
}

/** Half the limit, at least MIN_RESERVE and at most MAX_RESERVE. */
export function reserveFor(limit: number): number {
  return Math.min(MAX_RESERVE, Math.max(MIN_RESERVE, Math.floor(limit / 2)));
}

/** Descriptors all file-reading sources together may hold under this limit. */
export function fileBudgetFor(limit: number): number {
  if (!Number.isFinite(limit)) return Number.MAX_SAFE_INTEGER;
  return Math.max(MIN_FILE_BUDGET, limit - reserveFor(limit));
}

export function isDescriptorExhaustion(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** The process-wide count: one RLIMIT_NOFILE per process, shared by every source in it. */
export class DescriptorBudget {
  inUse = 0;
  constructor(
    readonly total: number,
    readonly limit: number,
    readonly limitFrom: 'proc' | 'fallback',
  ) {}

  tryTake(): boolean {
    if (this.inUse >= this.total) return false;
    this.inUse++;
    return true;
  }

  give(): void {
    if (this.inUse > 0) this.inUse--;
  }

  get free(): number {
    return Math.max(0, this.total - this.inUse);
  }
}

function processDefault(): DescriptorBudget {
  const { limit, from } = readOpenFileLimit();
  return new DescriptorBudget(fileBudgetFor(limit), limit, from);
}

export const processBudget = processDefault();

export interface SlotStats {
  source: string;
  open: number;
  max: number;
  /** Files that match but wait for a slot (file sources). */
  waiting: number;
  /** open() or a listing that met EMFILE/ENFILE. */
  exhausted: number;
}

/** Every source's slots, for metrics (the budget is per process, so is this list). */
const registered = new Map<string, OpenFileSlots>();

export function openFileStats(): SlotStats[] {
  return [...registered.values()].map((s) => ({ source: s.source, open: s.open, max: s.max, waiting: s.waiting, exhausted: s.exhausted }));
}

/** One source's share: at most `max` open, each also counted in the process budget. */
export class OpenFileSlots {
  open = 0;
  waiting = 0;
  exhausted = 0;
  private lastLog = -Infinity;
  private unlogged = 0;

  constructor(
    readonly source: string,
    readonly max: number,
    private readonly log: Logger,
    private readonly budget: DescriptorBudget = processBudget,
  ) {
    registered.set(source, this);
  }

  /** A slot for one descriptor, or false (leave the file for later). Give it back with give(). */
  tryTake(): boolean {
    if (this.open >= this.max || !this.budget.tryTake()) return false;
    this.open++;
    return true;
  }

  give(): void {
    if (this.open === 0) return;
    this.open--;
    this.budget.give();
  }

  /** Slots that tryTake() would grant now. */
  free(): number {
    return Math.min(this.max - this.open, this.budget.free);
  }

  /** open() or a listing met EMFILE/ENFILE: counted, and logged at most once per LOG_EVERY_MS. */
  noteExhausted(path: string, err: unknown): void {
    this.exhausted++;
    this.unlogged++;
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.log.warn(
      {
        event: 'descriptors_exhausted',
        path,
        code: (err as NodeJS.ErrnoException).code,
        times: this.unlogged,
        open_files: this.open,
        max_open_files: this.max,
        process_file_budget: this.budget.total,
        nofile_limit: this.budget.limit,
      },
      'out of file descriptors (EMFILE/ENFILE): the file is left for later and retried, nothing is lost; raise the open-files limit (LimitNOFILE) or lower max_open_files',
    );
    this.lastLog = now;
    this.unlogged = 0;
  }
}
