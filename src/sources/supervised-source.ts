/**
 * Runs one source under supervision: an unexpected error in it (its chunks$ errors) restarts
 * that source alone, with jittered exponential backoff, while the other sources go on. The
 * restart builds a fresh instance from the committed state: it first waits until everything the
 * failed instance handed over is committed (`settle`), then `create()` reads its positions from
 * the outbox, so nothing is read twice and nothing is skipped.
 *
 * The wrapper is itself a Source, so the pipeline needs no knowledge of it. `health()` says
 * whether the source is up, and since when it has been down (failed, or running without the
 * connection it reads through): /readyz, `status` and the metrics read it. A source counts as up again once its new instance has run for `settledAfterMs`
 * without failing, or has emitted a chunk.
 */
import { concatMap, defer, EMPTY, filter, from, Observable, retry, Subject, takeUntil, tap, timer, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { backoffDelay, type BackoffSettings } from '../net/retry-policy.js';
import type { LineChunk, Source } from './source.js';

export type SourceHealth =
  | { state: 'running'; restarts: number }
  | { state: 'restarting'; restarts: number; downSince: number; reason: string; retryAt: number }
  /** Restarted, and not yet up for long enough to count as healthy. */
  | { state: 'recovering'; restarts: number; downSince: number; reason: string }
  /** Running, but cut off from what it reads (a broker unreachable): no data comes. */
  | { state: 'not receiving'; restarts: number; downSince: number; reason: string };

export interface SupervisionOptions {
  backoff: BackoffSettings;
  logger: Logger;
  /** Resolves once every chunk handed to the pipeline so far is committed (the writer's flush). */
  settle: () => Promise<void>;
  /** How long a restarted instance must run without failing to count as up again. */
  settledAfterMs?: number;
  /** Told each time the health changes (the daemon writes it where `status` reads it). */
  onHealth?: (health: SourceHealth) => void;
  random?: () => number;
}

export class SupervisedSource implements Source {
  readonly chunks$: Observable<LineChunk>;
  readonly stalls$: Observable<void>;
  private current: Source;
  private readonly stallsOut = new Subject<void>();
  private stallsSub: Subscription | null = null;
  private connectionSub: Subscription | null = null;
  private readonly stopping = new Subject<void>();
  private draining = false;
  private restarts = 0;
  private failure: { downSince: number; reason: string; retryAt: number | null } | null = null;
  private settledTimer: NodeJS.Timeout | null = null;
  /** Drops counted by instances that failed and were replaced. */
  private dropsBefore: { kernel: number | null; backlog: number } | null = null;

  constructor(
    readonly name: string,
    private readonly create: () => Source,
    private readonly opts: SupervisionOptions,
  ) {
    this.current = create();
    this.follow(this.current);
    this.stalls$ = this.stallsOut.asObservable();
    this.chunks$ = defer(() => {
      const instance = this.current;
      if (this.failure !== null) this.markRecovering();
      return instance.chunks$.pipe(tap(() => this.markUp()));
    }).pipe(
      retry({
        resetOnSuccess: true,
        delay: (err: unknown, attempt: number) => this.scheduleRestart(err, attempt),
      }),
    );
  }

  health(): SourceHealth {
    const f = this.failure;
    if (f === null) {
      const lost = this.current.notReceiving?.() ?? null;
      return lost === null ? { state: 'running', restarts: this.restarts } : { state: 'not receiving', restarts: this.restarts, downSince: lost.since, reason: lost.reason };
    }
    return f.retryAt === null
      ? { state: 'recovering', restarts: this.restarts, downSince: f.downSince, reason: f.reason }
      : { state: 'restarting', restarts: this.restarts, downSince: f.downSince, reason: f.reason, retryAt: f.retryAt };
  }

  drain(): Promise<void> {
    this.draining = true;
    this.stopping.next();
    return this.current.drain();
  }

  finish(): Promise<void> {
    this.draining = true;
    this.stopping.next();
    return this.current.finish?.() ?? this.current.drain();
  }

  isCaughtUp(): boolean {
    return this.failure?.retryAt == null && this.current.isCaughtUp();
  }

  /** Datagrams lost (UDP), over every instance: a restarted source's counters start again at 0. */
  drops(): { kernel: number | null; backlog: number } | undefined {
    const now = this.current.drops?.();
    if (now === undefined && this.dropsBefore === null) return undefined;
    const before = this.dropsBefore ?? { kernel: null, backlog: 0 };
    const kernel = now?.kernel ?? null;
    return { kernel: kernel === null && before.kernel === null ? null : (kernel ?? 0) + (before.kernel ?? 0), backlog: (now?.backlog ?? 0) + before.backlog };
  }

  whenStarted(): Promise<void> {
    return this.current.whenStarted?.() ?? Promise.resolve();
  }

  /** Logs the failure, waits out the backoff, lets what was read commit, and builds a fresh instance. */
  private scheduleRestart(err: unknown, attempt: number): Observable<unknown> {
    const now = Date.now();
    const reason = err instanceof Error ? err.message : String(err);
    if (this.draining) {
      this.opts.logger.error({ event: 'source_failed', source: this.name, reason }, `source ${this.name} failed while stopping: ${reason}`);
      return EMPTY; // completes this source's stream: the stop goes on
    }
    const delay = Math.max(this.opts.backoff.initialDelayMs / 2, backoffDelay(attempt, this.opts.backoff, this.opts.random));
    this.clearSettled();
    this.failure = { downSince: this.failure?.downSince ?? now, reason, retryAt: now + delay };
    this.opts.onHealth?.(this.health());
    this.opts.logger.error(
      { event: 'source_failed', source: this.name, reason, err, attempt, restart_in_ms: delay, down_since: new Date(this.failure.downSince).toISOString() },
      `source ${this.name} failed: ${reason}; restarting it in ${delay} ms from its committed position (the other sources go on)`,
    );
    return timer(delay).pipe(
      takeUntil(this.stopping),
      concatMap(() =>
        from(
          (async () => {
            await this.opts.settle();
            // A stop that began while this waited: no new instance (nothing would drain it);
            // completing without a value ends this source's stream, and the stop goes on.
            if (this.draining) return false;
            this.restarts++;
            this.dropsBefore = this.drops() ?? null;
            this.current = this.create();
            this.follow(this.current);
            this.opts.logger.warn({ event: 'source_restarted', source: this.name, restarts: this.restarts }, `source ${this.name} restarted`);
            return true;
          })(),
        ).pipe(filter((restarted) => restarted)),
      ),
    );
  }

  private follow(instance: Source): void {
    this.stallsSub?.unsubscribe();
    this.stallsSub = (instance.stalls$ ?? EMPTY).subscribe(() => this.stallsOut.next());
    this.connectionSub?.unsubscribe();
    this.connectionSub = (instance.connectionChanges$ ?? EMPTY).subscribe(() => this.opts.onHealth?.(this.health()));
  }

  private markRecovering(): void {
    if (this.failure === null) return;
    this.failure.retryAt = null;
    this.clearSettled();
    this.settledTimer = setTimeout(() => this.markUp(), this.opts.settledAfterMs ?? 10_000);
    this.settledTimer.unref();
    this.opts.onHealth?.(this.health());
  }

  private markUp(): void {
    if (this.failure === null || this.failure.retryAt !== null) return;
    this.clearSettled();
    this.opts.logger.info(
      { event: 'source_recovered', source: this.name, down_ms: Date.now() - this.failure.downSince, restarts: this.restarts },
      `source ${this.name} is up again`,
    );
    this.failure = null;
    this.opts.onHealth?.(this.health());
  }

  private clearSettled(): void {
    if (this.settledTimer !== null) clearTimeout(this.settledTimer);
    this.settledTimer = null;
  }
}
