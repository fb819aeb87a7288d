/**
 * Runs a real Source in-process against a stand-in for the outbox: chunks are parsed with the
 * pipeline's own parse step and "committed" (readings kept, checkpoints stored, chunk acked)
 * when `commit()` runs. A restart is a new source built from the stored checkpoints; a crash
 * drops what was emitted but not committed, exactly as a killed agent would.
 */
import type { Subscription } from 'rxjs';
import pino from 'pino';
import type { FileCheckpoint } from '../../src/outbox/types.js';
import type { Reading } from '../../src/parse/reading.js';
import type { Spectrum } from '../../src/parse/spectrum.js';
import { parseChunk } from '../../src/pipeline/parse-chunk.js';
import type { LineChunk, Source } from '../../src/sources/source.js';
import { prng } from '../helpers/prng.js';

export const quietLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface Dead {
  origin: string | undefined;
  line: number | undefined;
  reason: string;
  raw: string | undefined;
}

export class Harness {
  readings: Reading[] = [];
  spectra: Spectrum[] = [];
  dead: Dead[] = [];
  readonly checkpoints = new Map<string, FileCheckpoint>();
  chunks = 0;
  private pending: LineChunk[] = [];
  private source: Source | null = null;
  private subscription: Subscription | null = null;
  /** Commit on every chunk at once (default), or only when commit() is called. */
  autoCommit = true;

  start(source: Source): Source {
    this.source = source;
    this.subscription = source.chunks$.subscribe({
      next: (chunk) => {
        this.pending.push(chunk);
        if (this.autoCommit) this.commit();
      },
      error: (err: unknown) => {
        throw err;
      },
    });
    return source;
  }

  /** Everything emitted so far becomes durable, then is acknowledged. */
  commit(): number {
    const batch = this.pending;
    this.pending = [];
    for (const chunk of batch) {
      const { batch: b } = parseChunk(chunk);
      this.readings.push(...b.readings);
      if (b.spectra) this.spectra.push(...b.spectra);
      for (const d of b.deadLetters) this.dead.push({ origin: d.origin, line: d.line, reason: d.reason, raw: d.raw });
      if (b.checkpoint) this.checkpoints.set(b.checkpoint.fileKey, b.checkpoint);
      this.chunks++;
    }
    for (const chunk of batch) chunk.ack();
    return batch.length;
  }

  get current(): Source | null {
    return this.source;
  }

  get uncommitted(): number {
    return this.pending.length;
  }

  /** Graceful stop: the source finishes, everything read is committed. */
  async stop(): Promise<void> {
    const source = this.source;
    if (source === null) return;
    const auto = this.autoCommit;
    this.autoCommit = true;
    this.commit();
    await source.drain();
    this.commit();
    this.subscription?.unsubscribe();
    this.source = null;
    this.autoCommit = auto;
  }

  /** Crash: what was emitted but not committed is gone. */
  crash(): void {
    this.subscription?.unsubscribe();
    const dropped = this.pending;
    this.pending = [];
    this.source = null;
    // Unlike a dead process, the old source object lives on: let it finish and close its files
    // (its chunks go nowhere: it is unsubscribed).
    for (const chunk of dropped) chunk.ack();
  }

  savedCheckpoints(): FileCheckpoint[] {
    return [...this.checkpoints.values()];
  }

  values(measure?: string): Array<number | string | boolean> {
    return this.readings.filter((r) => measure === undefined || r.measure === measure).map((r) => r.value);
  }
}

/** A small deterministic PRNG (mulberry32), so a failing random schedule can be replayed. */
export const random = prng;
