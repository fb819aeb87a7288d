/**
 * Drains one outbox lane into the hub: the delivery loop.
 *
 * A round comes from the round source (round-source.ts): the batches left in the in-flight
 * ledger (after a crash or a failed round: same ids, same rows), or the oldest waiting rows cut
 * into per-sensor batches (planner.ts), recorded in the ledger. This sends them: one sensor's
 * batches in order, sensors in parallel up to `concurrency`. Rows leave the outbox only when
 * the hub accepted them, so nothing is lost, and duplicates are bounded by the requests on the
 * wire at a crash (a recorded batch never sent is sent for the first time after a restart).
 * A sensor that may not be created (yet) is held (waiting-sensors.ts); the others go on.
 *
 * Failures pause the whole sink (HubGate): Retry-After (capped) or jittered backoff for
 * retryable ones, a recheck interval for auth failures. Collection is never paused here.
 */
import type { Logger } from 'pino';
import { storageFaultOf } from '../outbox/storage-fault.js';
import { BatchSender, type Batch } from './batch-sender.js';
import type { DeliveryState } from './delivery-state.js';
import { PoisonRule } from './poison.js';
import { HubGate } from './gate.js';
import { RequestPacer } from './pacer.js';
import type { RoundPlanner } from './planner.js';
import { RoundSource } from './round-source.js';
import type { HubFailure } from './outcome.js';
import { retryDelay } from '../net/retry-policy.js';
import type { ShipperOptions, ShipperStats } from './shipper-options.js';
import { WaitingSensors } from './waiting-sensors.js';
import { WakeableSleep } from '../async/wakeable-sleep.js';

export type { ShipperOptions, ShipperStats } from './shipper-options.js';

export class Shipper {
  state: DeliveryState = { state: 'idle' };
  /** The loop's own counters; the sender and the round source keep theirs (stats()). */
  private readonly counts = { retried: 0, throttled: 0, bodiesHandedBack: 0 };
  readonly gate: HubGate;
  private readonly waiting: WaitingSensors;
  private readonly sender: BatchSender;
  private readonly rounds: RoundSource;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly alarm = new WakeableSleep();
  private sleepWakesOnNotify = false;
  private notified = false;
  private attempt = 0;
  /** When the current streak of failed rounds began (null while rounds succeed): readiness reads it. */
  private failingSince: number | null = null;
  /** Set by the first round the hub accepted; until then, and after a failure, rounds are probes. */
  private hubAnswered = false;
  private abort = new AbortController();
  private lastExpiry = 0;
  private lastAuthLog = 0;
  private readonly log: Logger;
  private logWindow = { points: 0, since: Date.now() };

  /**
   * `fullRounds` plans full rounds instead of the worker or this thread: a seam for tests (they
   * hold a plan back with it, round-source.ts); production code never passes it.
   */
  constructor(
    private readonly opts: ShipperOptions,
    fullRounds?: RoundPlanner,
  ) {
    this.log = opts.logger;
    this.waiting = new WaitingSensors(opts.outbox, opts.lane, this.log);
    this.gate = new HubGate(
      opts.maxRate ?? null,
      {
        get: () => opts.outbox.state.get<number>('hub.pause_until')?.value ?? 0,
        set: (until) => opts.outbox.state.setWithoutFsync('hub.pause_until', until),
      },
      opts.paceAfterThrottling === false ? null : new RequestPacer(),
    );
    const poison = new PoisonRule(opts.retry.poisonAfter ?? 5);
    this.sender = new BatchSender(
      opts.outbox,
      opts.client,
      this.gate,
      this.log,
      (n) => {
        this.logWindow.points += n;
      },
      (points) => {
        if (this.rounds.recycle(points)) this.counts.bodiesHandedBack++;
      },
      poison,
    );
    const host = {
      isRunning: () => this.running,
      sleep: (ms: number, wakeOnNotify: boolean) => this.sleep(ms, wakeOnNotify),
      idle: () => {
        this.setState({ state: 'idle' });
        this.flushLog(false);
      },
      waiting: this.waiting,
    };
    this.rounds = new RoundSource(opts, host, poison, fullRounds);
  }

  /** What delivery did since start: a snapshot of the loop's, the sender's and the round source's counters. */
  stats(): ShipperStats {
    return { ...this.sender.counts, ...this.counts, ...this.rounds.counts };
  }

  /** Sensors whose readings wait (e.g. no permission to create them), with the reason. */
  get waitingSensors(): ReadonlyMap<string, string> {
    return this.waiting.map;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // An error here is a bug or a fault the loop cannot handle: report it to the owner, which
    // stops the process in order (never an unhandled rejection that skips the ordered stop).
    this.loop = this.run().catch((err: unknown) => {
      this.running = false;
      this.log.fatal({ event: 'shipper_crashed', err }, 'shipper stopped on an unexpected error');
      this.opts.onCrashed?.(err);
    });
  }

  /** New rows were committed: look now instead of at the next poll. */
  notify(): void {
    this.notified = true;
    const filling = this.rounds.rowsArrived();
    if (this.state.state === 'idle' || filling) this.wake();
  }

  /** Something that blocked delivery may have changed (a new token): try again now. */
  retryNow(): void {
    this.waiting.clear();
    this.rounds.restartChain();
    this.gate.resume();
    if ('until' in this.state) this.state = { state: 'flowing' };
    this.wake();
  }

  /** Send partial batches at once instead of waiting max_wait for them to fill (used when draining). */
  setFlushNow(flush: boolean): void {
    this.rounds.flushNow = flush;
    this.wake();
  }

  /** True when the last look at the lane found nothing to send and nothing is in flight. */
  isIdle(): boolean {
    return this.rounds.foundEmpty && this.state.state === 'idle';
  }

  /**
   * Stops after the round in flight; requests still running after `deadlineMs` are abandoned
   * (their rows and ledger records stay; they are sent again, same ids, next start).
   */
  async stop(deadlineMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    const timer = setTimeout(() => this.abort.abort(), deadlineMs);
    try {
      await this.loop;
    } finally {
      clearTimeout(timer);
      await this.rounds.close();
    }
    this.flushLog(true);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const now = Date.now();
      if ('until' in this.state && this.state.until > now) {
        this.expireIfDue(now);
        await this.sleep(this.state.until - now, false);
        continue;
      }
      const blocked = this.tokenProblem();
      if (blocked !== null) {
        this.pause({ kind: 'unauthorized', status: 0, reason: blocked });
        continue;
      }
      // At start and after a failure, probe with one batch before loading and encoding a whole
      // round: a hub that is down then costs one request's rows per retry, not a round's.
      const probe = this.attempt > 0 || !this.hubAnswered;
      const batches = await this.rounds.next(now, probe, this.attempt > 0);
      if (batches === null) continue; // waiting to fill, or idle
      this.state = { state: 'flowing' };
      this.sender.poison.beginRound();
      const execution = this.execute(batches);
      await this.rounds.whileOnTheWire(probe);
      const failure = await execution;
      this.opts.outbox.ledger.witnessed(this.sender.poison.endRound());
      if (failure !== null) {
        this.rounds.roundFailed();
        this.pause(failure.failure, failure.at);
      } else {
        this.attempt = 0;
        this.failingSince = null;
        this.hubAnswered = true;
        this.setState({ state: 'flowing' });
      }
      this.flushLog(false);
    }
  }

  /** Sensors in parallel (up to `concurrency`), each sensor's batches in order; the first failure stops new requests. */
  private async execute(batches: Batch[]): Promise<{ failure: HubFailure; at: number } | null> {
    const bySensor = new Map<string, Batch[]>();
    for (const batch of batches) {
      const key = `${batch.record.kind}\u0000${batch.record.sensor}`;
      let list = bySensor.get(key);
      if (list === undefined) bySensor.set(key, (list = []));
      list.push(batch);
    }
    const queue = [...bySensor.values()];
    // The first failure stops new requests; a Retry-After counts from the answer of the last
    // one (every throttling answer of the round is honoured), not from the end of the round.
    // Requests still waiting at the gate (pacing, max_rate) when a failure comes back are not
    // sent: the pause is decided once the round is over, and they must not slip into it.
    let failure: HubFailure | null = null;
    let lastFailedAt = 0;
    const roundFailed = new AbortController();
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined && failure === null; next = queue.shift()) {
        const f = await this.shipSensor(next, () => failure !== null, roundFailed.signal);
        if (f === null) continue;
        if (failure === null) roundFailed.abort();
        failure ??= f;
        lastFailedAt = Date.now();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, queue.length) }, worker));
    return failure === null ? null : { failure, at: lastFailedAt };
  }

  private async shipSensor(batches: Batch[], stopped: () => boolean, roundFailed: AbortSignal): Promise<HubFailure | null> {
    const first = batches[0]!.record;
    const ingest = first.kind === 'readings' ? 'timeseries' : 'frequency';
    if (this.opts.sensors.knownId(first.sensor) === null && this.opts.token()?.canCreate() === false) {
      this.waiting.hold(first.sensor, batches, `the token lacks Internal Hub Create, so sensor "${first.sensor}" cannot be created`);
      return null;
    }
    const addressed = await this.opts.sensors.address(first.sensor, ingest, this.abort.signal);
    if (addressed.kind === 'failed') {
      if (addressed.failure.kind === 'forbidden') {
        this.waiting.hold(first.sensor, batches, `the hub refused to create sensor "${first.sensor}": ${addressed.failure.reason}`);
        return null;
      }
      return addressed.failure;
    }
    for (const batch of batches) {
      if (stopped()) return null;
      const failure = await this.sender.send(batch, addressed.address, this.abort.signal, roundFailed);
      if (failure !== null) return failure;
    }
    return null;
  }

  /** Why no data request may go out with the current credential, or null. */
  tokenProblem(): string | null {
    const token = this.opts.token();
    if (token === null) return `no usable credential: ${this.opts.tokenMissing?.() ?? 'none loaded'}`;
    if (token.isExpired()) return `machine token ${token.fingerprint} expired at ${token.claims.expiresAt!.toISOString()}; put a new token in place`;
    if (token.canWrite() === false) return `machine token ${token.fingerprint} lacks the Internal Hub Write permission; ask Senseye support for it`;
    return null;
  }

  private pause(failure: HubFailure, now = Date.now()): void {
    this.attempt++;
    const since = (this.failingSince ??= now);
    if (failure.kind === 'unauthorized' || failure.kind === 'forbidden') {
      if (failure.kind === 'unauthorized' && failure.status === 401) this.opts.onUnauthorized?.();
      const until = now + (this.opts.authRetryMs ?? 30_000);
      // An error at once, then at most every 5 minutes while the cause stays the same.
      if (this.state.state !== 'paused' || this.state.reason !== failure.reason || now - this.lastAuthLog >= 300_000) {
        this.lastAuthLog = now;
        this.log.error({ event: 'delivery_paused', reason: failure.reason, retry_at: new Date(until).toISOString() }, 'delivery paused; collection continues');
      }
      this.gate.pauseUntil(until);
      this.setState({ state: 'paused', until, reason: failure.reason, since });
      return;
    }
    const retryAfterMs = failure.kind === 'retryable' ? failure.retryAfterMs : undefined;
    const delay = retryDelay(this.attempt, retryAfterMs, this.opts.retry, this.opts.random);
    const throttled = failure.kind === 'retryable' && failure.throttled;
    this.counts.retried++;
    if (throttled) this.counts.throttled++;
    // A throttling answer concerns every client of this hub: other processes on this state dir wait too.
    this.gate.pauseUntil(now + delay, throttled);
    this.setState({ state: throttled ? 'throttled' : 'retrying', until: now + delay, reason: failure.reason, since });
    this.log.warn(
      {
        event: throttled ? 'hub_throttled' : 'hub_retry',
        reason: failure.reason,
        cause: failure.kind === 'retryable' ? failure.cause : failure.kind,
        failing_since: new Date(since).toISOString(),
        attempt: this.attempt,
        delay_ms: delay,
        retry_after_ms: retryAfterMs ?? null,
        retry_at: new Date(now + delay).toISOString(),
      },
      throttled ? 'hub asked to slow down; every request waits' : 'hub request failed; will retry',
    );
  }

  /** With hub.retry.max_age set: while delivery fails, readings older than that go to dead letters. */
  private expireIfDue(now: number): void {
    const maxAge = this.opts.retry.maxAgeMs;
    if (maxAge === undefined || now - this.lastExpiry < 60_000) return;
    this.lastExpiry = now;
    let n: number;
    try {
      n = this.opts.outbox.expire(this.opts.lane, now - maxAge, `not delivered within hub.retry.max_age (${maxAge} ms)`);
    } catch (err) {
      // A full disk: the old readings stay in the outbox and the next look tries again.
      if (storageFaultOf(err) === null) throw err;
      this.opts.outbox.storageFaults?.writeFailed(err, 'ack');
      return;
    }
    if (n > 0) this.log.warn({ event: 'readings_expired', readings: n, max_age_ms: maxAge }, 'readings older than hub.retry.max_age moved to dead letters');
  }

  private setState(next: DeliveryState): void {
    const prev = this.state;
    this.state = next;
    if (prev.state !== next.state || ('reason' in prev ? prev.reason : '') !== ('reason' in next ? next.reason : '')) {
      try {
        this.opts.outbox.state.setWithoutFsync(`delivery.${this.opts.lane}`, { ...next, pid: process.pid });
      } catch {
        // Status is informational; a busy database must not stop delivery.
      }
    }
  }

  private flushLog(force: boolean): void {
    const w = this.logWindow;
    const now = Date.now();
    if (w.points === 0) return;
    if (!force && now - w.since < 1000) return;
    this.log.info(
      {
        event: 'delivered',
        readings: w.points,
        total_delivered: this.sender.counts.delivered + this.sender.counts.spectraDelivered,
        ms: now - w.since,
        requests: this.sender.counts.requests,
        planned_ahead: this.rounds.counts.plannedAhead,
      },
      `delivered ${w.points} readings`,
    );
    this.logWindow = { points: 0, since: now };
  }

  /**
   * Waits `ms`; `wakeOnNotify`: new rows end the wait (idle, or a batch filling). While paused
   * (throttled, failing) only a stop, a new token or the pause's end does.
   */
  private async sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (!this.running) return;
    if (wakeOnNotify && this.notified) {
      this.notified = false;
      return;
    }
    this.sleepWakesOnNotify = wakeOnNotify;
    await this.alarm.sleep(ms);
  }

  /** Ends the sleep in progress unless it is a pause that has not ended (see sleep()). */
  private wake(): void {
    if (!this.alarm.isSleeping) return;
    this.notified = false;
    if (!this.running || this.sleepWakesOnNotify || !('until' in this.state) || this.state.until <= Date.now()) this.alarm.wake();
  }

}
