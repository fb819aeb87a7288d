/**
 * What every source emits: chunks of raw lines with where they came from and, for files, the
 * position just after them (socket chunks have none: their origin is the peer address). A chunk becomes readings in the pipeline's parse step; the source
 * learns it was consumed only through `ack()`, called after the outbox transaction holding its
 * readings (and its position) committed. Sources bound the chunks they have outstanding, so a
 * slow outbox pauses reading instead of growing memory (RxJS itself has no backpressure).
 */
import { Subject, type Observable, type Subscriber } from 'rxjs';
import type { LineParser } from '../parse/parser.js';
import type { FileCheckpoint } from '../outbox/types.js';

export interface LineChunk {
  source: string;
  lane: number;
  /** File path or peer address, for dead letters. */
  origin: string;
  lines: string[];
  /** Line number of lines[0] (1-based). */
  firstLine: number;
  /** The parser of this file/connection; it keeps per-file state such as a CSV header. */
  parser: LineParser;
  /** Lines refused before parsing (e.g. longer than the source's limit). */
  refused?: RefusedLine[] | undefined;
  /** lines[0] is one complete document (a whole file of a document format): parsed with parseWhole. */
  whole?: boolean | undefined;
  /** Position after these lines; parserState is filled in after parsing. */
  checkpoint?: Omit<FileCheckpoint, 'parserState'> | undefined;
  /** Called once the chunk's readings and position are durable. */
  ack(): void;
}

export interface Source {
  readonly name: string;
  /** Cold: subscribing starts the source; unsubscribing stops it at once (no more chunks). */
  readonly chunks$: Observable<LineChunk>;
  /** Finish the current chunk and complete chunks$; resolves when completed. Idempotent. */
  drain(): Promise<void>;
  /**
   * For inputs that are complete (a backfill): emit what is left, including a last line without
   * its newline, then complete chunks$ like drain(). Sources without it are drained.
   */
  finish?(): Promise<void>;
  /** True when every input was read to its end and every chunk was acknowledged. */
  isCaughtUp(): boolean;
  /**
   * Resolves once the source runs (a socket listens); rejects with a SourceStartError when it
   * cannot (port in use, bad certificate). Sources that wait for their input to appear (a
   * folder not mounted yet) resolve at once and retry with backoff. Absent: nothing to wait for.
   */
  whenStarted?(): Promise<void>;
  /**
   * Emits when the source has data but must wait for an in-flight chunk to be acknowledged:
   * the pipeline then commits what it holds instead of waiting for a fuller group.
   */
  readonly stalls$?: Observable<void>;
  /**
   * Datagram sources: datagrams lost so far, by the kernel (its receive buffer was full; null
   * where the kernel's count cannot be read) and by the source's own backlog limit; undefined: it counts none.
   */
  drops?(): { kernel: number | null; backlog: number } | undefined;
  /**
   * Sources that read through a connection of their own to a peer (a broker): since when they
   * have been cut off and why (no connection: not yet made, or lost); null while they receive. Such a source gets no data, so supervision reports it down (/readyz,
   * `status`, `source_up`), though it has not failed and is not restarted.
   */
  notReceiving?(): { since: number; reason: string } | null;
  /** Emits when `notReceiving()` may have changed. */
  readonly connectionChanges$?: Observable<void>;
}

/**
 * Limits the chunks a source has in flight. `acquire()` resolves when a slot is free;
 * the chunk's ack releases it.
 */
export class InFlightLimit {
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private readonly waits = new Subject<void>();
  /** Emits each time acquire() has to wait for a slot. */
  readonly waits$: Observable<void> = this.waits.asObservable();
  constructor(private readonly max: number) {}

  get count(): number {
    return this.inFlight;
  }

  /** Takes a slot if one is free, without waiting. */
  tryAcquire(): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    return true;
  }

  async acquire(): Promise<void> {
    while (this.inFlight >= this.max) {
      const freed = new Promise<void>((resolve) => this.waiters.push(resolve));
      this.waits.next();
      await freed;
    }
    this.inFlight++;
  }

  release(): void {
    this.inFlight--;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when nothing is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/** A line the source itself refused (too long to hold): dead-lettered with its line number. */
export interface RefusedLine {
  line: number;
  raw: string;
  reason: string;
}

/**
 * Hands a chunk to the pipeline; when nobody listens any more (the source was unsubscribed:
 * an abort), the chunk can never be committed, so its slot is released at once and the source
 * can wind down and close its files instead of waiting forever.
 */
export function deliver(subscriber: Subscriber<LineChunk> | null, chunk: LineChunk): void {
  if (subscriber === null || subscriber.closed) chunk.ack();
  else subscriber.next(chunk);
}
