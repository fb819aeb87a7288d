/**
 * The ingest pipeline, wiring only: sources → parse → group → outbox writer.
 *   merge(sources' chunks) → map(parseChunk) → batchForOutbox → writer.write (sync commit, then ack)
 * A source waiting for acknowledgements makes the group commit early (sources' stalls$).
 */
import { EMPTY, map, merge, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Source } from '../sources/source.js';
import { batchForOutbox } from './batch.js';
import { parseChunk, type ParsedChunk } from './parse-chunk.js';
import type { OutboxWriter } from './writer.js';

export interface PipelineOptions {
  sources: Source[];
  writer: OutboxWriter;
  batchSize: number;
  maxWaitMs: number;
  logger: Logger;
  /** Called when the pipeline itself fails (not a source: those are supervised): nothing more is read. */
  onFailed?: (err: unknown) => void;
  /** A step after parsing (backfill's time window); pure, and must keep `ack`. */
  transform?: (chunk: ParsedChunk) => ParsedChunk;
}

export class IngestPipeline {
  private subscription: Subscription | null = null;
  private completed: Promise<void> | null = null;

  constructor(private readonly opts: PipelineOptions) {}

  start(): void {
    if (this.subscription) return;
    const { sources, writer, batchSize, maxWaitMs, logger } = this.opts;
    this.completed = new Promise<void>((resolve) => {
      this.subscription = merge(...sources.map((s) => s.chunks$))
        .pipe(map(parseChunk), map(this.opts.transform ?? ((c: ParsedChunk) => c)), batchForOutbox(batchSize, maxWaitMs, merge(...sources.map((s) => s.stalls$ ?? EMPTY))))
        .subscribe({
          next: (group) => writer.write(group),
          error: (err: unknown) => {
            logger.error({ event: 'pipeline_failed', err }, 'ingest pipeline stopped on an unexpected error');
            resolve();
            this.opts.onFailed?.(err);
          },
          complete: () => resolve(),
        });
    });
  }

  isCaughtUp(): boolean {
    return this.opts.writer.pendingCount === 0 && this.opts.sources.every((s) => s.isCaughtUp());
  }

  /**
   * Stops reading and commits everything already read. Resolves true when it is durable, or
   * false if `deadlineMs` passed first (a blocked outbox): then uncommitted chunks are
   * abandoned, which for files means they are read again next start.
   */
  async drain(deadlineMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
    const done = (async () => {
      await Promise.all(this.opts.sources.map((s) => s.drain()));
      await this.completed;
      await this.opts.writer.flushed();
      return true as const;
    })();
    const ok = await Promise.race([done, deadline]);
    clearTimeout(timer);
    if (!ok) this.abort();
    return ok;
  }

  /** Immediate stop: what was read but not committed is simply read again next start. */
  abort(): void {
    this.subscription?.unsubscribe();
    this.opts.writer.abandon();
  }
}
