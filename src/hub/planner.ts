/**
 * Plans rounds of requests: reads the waiting rows (from the oldest, or past the round on the
 * wire) and encodes them into
 * per-sensor batches. Reading and encoding are most of the delivery CPU, so the daemon does it
 * in a worker thread with its own read connection (planner-worker.ts): meanwhile the shipper's
 * thread keeps ingesting and answering the hub (docs/performance.md, item 14).
 * Nothing here writes: the shipper records a round in the ledger only when it sends it.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Outbox } from '../outbox/outbox.js';
import type { OutboxReader } from '../outbox/reader.js';
import type { ReadingsBatch } from './batch-sender.js';
import type { TakeBuffer } from './body-buffers.js';
import { readRound, planReadingBatches, type Continuation, type RoundSettings } from './round-plan.js';

export interface RoundRequest {
  /** Plan the round after the one on the wire (round-plan.ts); without it, from the oldest row. */
  from?: Continuation | undefined;
  /** One request's worth, to learn whether the hub answers (shipper.ts). */
  probe: boolean;
  /** Sensors whose rows are left out (they cannot be delivered yet). */
  waitingSensors: readonly string[];
  /** Encode only if at least this many readings wait (fewer: the caller waits for more and asks again). */
  minReadings: number;
}

export interface PlannedRound {
  /** Empty when fewer than `minReadings` readings wait. */
  batches: ReadingsBatch[];
  /** Readings waiting, as far as the read saw (a probe sends one sensor's part of them). */
  readings: number;
  /** Where the round after this one may be planned from while this one is on the wire, or null. */
  next: Continuation | null;
}

export interface RoundPlanner {
  plan(request: RoundRequest): Promise<PlannedRound>;
  /** A planned batch's points, sent and accepted: their buffer may be reused (body-buffers.ts). */
  recycle?(points: Uint8Array): boolean;
  close(): Promise<void>;
}

/** Plans with the given connection, on the caller's thread. */
export function planRoundSync(outbox: OutboxReader, s: RoundSettings, req: RoundRequest, buffers?: TakeBuffer): PlannedRound {
  // Planning ahead while few rows have arrived past the round on the wire is the common miss:
  // a count on the index says so without reading them.
  if (req.from !== undefined && req.minReadings > 0) {
    const waiting = outbox.countAfter(s.lane, req.from.afterId, req.minReadings);
    if (waiting < req.minReadings) return { batches: [], readings: waiting, next: null };
  }
  outbox.streams.refresh(); // floors and exclusions name every stream of their sensors
  const excludeStreams = req.waitingSensors.flatMap((sensor) => outbox.streams.streamsOf(sensor));
  const { readings, waiting, next } = readRound(outbox, s, { probe: req.probe, from: req.from, excludeStreams });
  const batches = readings.length > 0 && waiting >= req.minReadings ? planReadingBatches(readings, s, buffers) : [];
  return { batches, readings: waiting, next };
}

export class InlinePlanner implements RoundPlanner {
  constructor(
    private readonly outbox: Outbox,
    private readonly settings: RoundSettings,
  ) {}

  async plan(request: RoundRequest): Promise<PlannedRound> {
    return planRoundSync(this.outbox.reader, this.settings, request);
  }

  async close(): Promise<void> {}
}

/** What the worker answers: a round (batches without their rows: ids and encoded points), or why it could not. */
export type PlannerReply = { seq: number; round: PlannedRound } | { seq: number; error: string };

/**
 * Plans in a worker thread. If the worker cannot start or fails, planning goes on inline (and
 * says so once): slower, never wrong.
 */
export class WorkerPlanner implements RoundPlanner {
  private worker: Worker | null;
  private readonly inline: InlinePlanner;
  private readonly pending = new Map<number, (reply: PlannerReply) => void>();
  private seq = 0;
  private lastFailure: string | null = null;
  private isReady = false;

  constructor(
    outbox: Outbox,
    settings: RoundSettings,
    private readonly log: Logger,
    options: { synchronous?: 'full' | 'normal' } = {},
  ) {
    this.inline = new InlinePlanner(outbox, settings);
    const createdAt = Date.now();
    this.worker = new Worker(workerScript(), { workerData: { file: outbox.file, settings, synchronous: options.synchronous ?? 'full' } });
    this.worker.unref(); // a plan in progress must not keep a stopping agent alive
    this.worker.on('message', (reply: PlannerReply | { ready: true }) => {
      if ('ready' in reply) {
        this.isReady = true;
        this.log.info({ event: 'planner_started', ms: Date.now() - createdAt }, 'planning rounds in a worker thread');
        return;
      }
      const settle = this.pending.get(reply.seq);
      this.pending.delete(reply.seq);
      settle?.(reply);
    });
    this.worker.on('error', (err) => this.fail(err.message));
    this.worker.on('exit', (code) => this.fail(`exited with code ${code}`));
  }

  /**
   * True once the worker has loaded and opened the outbox (~0.3 s after it was created). Asked
   * before that, it plans when it is up: the shipper plans here meanwhile instead of waiting.
   */
  get ready(): boolean {
    return this.isReady && this.worker !== null;
  }

  async plan(request: RoundRequest): Promise<PlannedRound> {
    const worker = this.worker;
    if (worker === null) return this.inline.plan(request);
    const seq = ++this.seq;
    const reply = await new Promise<PlannerReply>((resolve) => {
      this.pending.set(seq, resolve);
      worker.postMessage({ seq, request });
    });
    if ('error' in reply) {
      // Said once per cause: a damaged or busy database would otherwise log every round.
      if (reply.error !== this.lastFailure) {
        this.log.warn({ event: 'planner_failed', reason: reply.error }, 'planning a round in the worker failed; planned on this thread instead');
      }
      this.lastFailure = reply.error;
      return this.inline.plan(request);
    }
    this.lastFailure = null;
    return reply.round;
  }

  /** Hands an accepted batch's buffer back to the worker's pool (a transfer: it is detached here). */
  recycle(points: Uint8Array): boolean {
    const buffer = points.buffer;
    if (this.worker === null || !(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return false;
    this.worker.postMessage({ recycle: buffer }, [buffer]);
    return true;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
    this.settleAll('closed');
  }

  private fail(reason: string): void {
    if (this.worker === null) return;
    this.worker = null;
    this.log.warn({ event: 'planner_stopped', reason }, 'the planner worker stopped; rounds are planned on this thread from now on');
    this.settleAll(reason);
  }

  private settleAll(reason: string): void {
    for (const [seq, settle] of this.pending) settle({ seq, error: reason });
    this.pending.clear();
  }
}

/**
 * The worker's compiled module. Under vitest this file runs from src/ as TypeScript, which a
 * worker thread cannot load: it then uses the build in dist/ (`npm test` builds first).
 */
function workerScript(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/hub/planner-worker.js', here) : new URL('./planner-worker.js', here);
}
