/**
 * Drains one outbox lane into the hub.
 *
 * Each round claims the oldest waiting readings, groups them by sensor, and sends each
 * sensor's batches in order (sensors in parallel up to `concurrency`). Rows are deleted only
 * after the hub accepted them, so a crash anywhere resends at most the batches in flight,
 * with the same batch ids. Every round starts again from the oldest row: what failed is still
 * there, so per-sensor order holds without any cursor to lose.
 *
 * Failures: retryable (network, 5xx, 429) pause the whole sink for Retry-After or a jittered
 * backoff; permanent rejections are bisected down to the offending points, which alone go to
 * dead letters; auth failures pause delivery (collection goes on) and are retried.
 */
import type { Logger } from 'pino';
import type { MachineToken } from '../auth/token.js';
import type { Outbox } from '../outbox/outbox.js';
import type { ClaimedReading } from '../outbox/types.js';
import type { HubClient } from './client.js';
import type { DeliveryState } from './delivery-state.js';
import { batchId, encodeMutation, planBatches, type PlannedBatch, type SensorAddress } from './encode.js';
import type { HubFailure } from './outcome.js';
import { retryDelay, type BackoffSettings } from './retry-policy.js';
import type { SensorDirectory } from './sensors.js';

export interface ShipperOptions {
  outbox: Outbox;
  client: HubClient;
  sensors: SensorDirectory;
  token: () => MachineToken;
  lane: number;
  logger: Logger;
  maxPoints: number;
  maxBytes: number;
  maxWaitMs: number;
  concurrency: number;
  retry: BackoffSettings;
  /** How often an empty outbox is looked at again without a notify (another process may write). */
  idlePollMs?: number;
  /** How long an auth pause waits before trying again. */
  authRetryMs?: number;
  random?: () => number;
}

export interface ShipperStats {
  delivered: number;
  rejected: number;
  requests: number;
  retried: number;
  throttled: number;
}

export class Shipper {
  state: DeliveryState = { state: 'idle' };
  readonly stats: ShipperStats = { delivered: 0, rejected: 0, requests: 0, retried: 0, throttled: 0 };
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private notified = false;
  private attempt = 0;
  private fillStartedAt: number | null = null;
  private flushNow = false;
  private roundFailure: HubFailure | null = null;
  private abort = new AbortController();
  private lastEmptyCheck = false;
  private readonly log: Logger;
  private logWindow = { readings: 0, requests: 0, since: Date.now() };

  constructor(private readonly opts: ShipperOptions) {
    this.log = opts.logger;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err: unknown) => {
      this.log.fatal({ event: 'shipper_crashed', err }, 'shipper stopped on an unexpected error');
      throw err;
    });
  }

  /** New rows were committed: look now instead of at the next poll. */
  notify(): void {
    this.notified = true;
    this.lastEmptyCheck = false;
    this.wake?.();
  }

  /** Send partial batches at once instead of waiting max_wait for them to fill (used when draining). */
  setFlushNow(flush: boolean): void {
    this.flushNow = flush;
    this.wake?.();
  }

  /** True when the last look at the lane found it empty and nothing is in flight. */
  isIdle(): boolean {
    return this.lastEmptyCheck && this.state.state === 'idle';
  }

  /**
   * Stops after the round in flight; requests still running after `deadlineMs` are abandoned
   * (their rows stay in the outbox and are sent again, with the same batch ids, next start).
   */
  async stop(deadlineMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    const timer = setTimeout(() => this.abort.abort(), deadlineMs);
    try {
      await this.loop;
    } finally {
      clearTimeout(timer);
    }
    this.flushLog(true);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const now = Date.now();
      if ('until' in this.state && this.state.until > now) {
        await this.sleep(this.state.until - now, false);
        continue;
      }
      const blocked = this.tokenProblem();
      if (blocked !== null) {
        this.pause({ kind: 'unauthorized', status: 0, reason: blocked });
        continue;
      }
      const rows = this.opts.outbox.claim(this.opts.lane, 0, this.opts.maxPoints * this.opts.concurrency);
      if (rows.length === 0) {
        this.lastEmptyCheck = true;
        this.state = { state: 'idle' };
        this.fillStartedAt = null;
        this.flushLog(false);
        await this.sleep(this.opts.idlePollMs ?? 1000, true);
        continue;
      }
      this.lastEmptyCheck = false;
      if (rows.length < this.opts.maxPoints && !this.flushNow && this.running) {
        this.fillStartedAt ??= now;
        const waited = now - this.fillStartedAt;
        if (waited < this.opts.maxWaitMs) {
          await this.sleep(this.opts.maxWaitMs - waited, true);
          continue;
        }
      }
      this.fillStartedAt = null;
      this.state = { state: 'flowing' };
      await this.round(rows);
      if (this.roundFailure !== null) this.pause(this.roundFailure);
      else this.attempt = 0;
      this.flushLog(false);
    }
  }

  private tokenProblem(): string | null {
    const token = this.opts.token();
    if (token.isExpired()) return `machine token ${token.fingerprint} expired at ${token.claims.expiresAt!.toISOString()}; put a new token in place`;
    if (token.canWrite() === false) return `machine token ${token.fingerprint} lacks the Internal Hub Write permission; ask Senseye support for it`;
    return null;
  }

  /** Sends every sensor's readings of this claim; sensors in parallel, each sensor's batches in order. */
  private async round(rows: ClaimedReading[]): Promise<void> {
    this.roundFailure = null;
    const bySensor = new Map<string, ClaimedReading[]>();
    for (const r of rows) {
      let list = bySensor.get(r.sensor);
      if (list === undefined) bySensor.set(r.sensor, (list = []));
      list.push(r);
    }
    const queue = [...bySensor.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined && this.roundFailure === null; next = queue.shift()) {
        await this.shipSensor(next[0], next[1]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, queue.length) }, worker));
  }

  private async shipSensor(sensor: string, readings: ClaimedReading[]): Promise<void> {
    const addressed = await this.opts.sensors.address(sensor, this.abort.signal);
    this.stats.requests += addressed.kind === 'failed' ? 1 : 0;
    if (addressed.kind === 'failed') {
      this.roundFailure ??= addressed.failure;
      return;
    }
    for (const batch of planBatches(readings, this.opts.maxPoints, this.opts.maxBytes)) {
      if (this.roundFailure !== null) return;
      const ok = await this.deliver(sensor, addressed.address, batch);
      if (!ok) return;
    }
  }

  /** Sends one batch; splits it on 413 and bisects it on a permanent rejection. False stops this sensor's round. */
  private async deliver(sensor: string, address: SensorAddress, batch: PlannedBatch): Promise<boolean> {
    const id = batchId(this.opts.lane, sensor, batch.readings);
    const outcome = await this.opts.client.storeMeasures(encodeMutation(address, id, batch.points), id, this.abort.signal);
    this.stats.requests++;
    this.logWindow.requests++;
    switch (outcome.kind) {
      case 'ok':
      case 'conflict':
        this.opts.outbox.ack(batch.readings.map((r) => r.id));
        this.stats.delivered += batch.readings.length;
        this.logWindow.readings += batch.readings.length;
        return true;
      case 'too_large':
      case 'rejected': {
        if (batch.readings.length === 1) {
          const reason = `hub refused: ${outcome.reason}`;
          this.opts.outbox.reject(batch.readings, this.opts.lane, reason);
          this.stats.rejected++;
          this.log.warn(
            { event: 'reading_rejected', sensor, measure: batch.readings[0]!.measure, ts: batch.readings[0]!.ts, reason },
            'the hub refused a reading; it is in the dead-letter table',
          );
          return true;
        }
        const mid = Math.ceil(batch.readings.length / 2);
        const left = { readings: batch.readings.slice(0, mid), points: batch.points.slice(0, mid) };
        const right = { readings: batch.readings.slice(mid), points: batch.points.slice(mid) };
        return (await this.deliver(sensor, address, left)) && (await this.deliver(sensor, address, right));
      }
      default:
        this.roundFailure ??= outcome;
        return false;
    }
  }

  private pause(failure: HubFailure): void {
    this.attempt++;
    const now = Date.now();
    if (failure.kind === 'unauthorized' || failure.kind === 'forbidden') {
      const until = now + (this.opts.authRetryMs ?? 30_000);
      if (this.state.state !== 'paused' || this.state.reason !== failure.reason) {
        this.log.error({ event: 'delivery_paused', reason: failure.reason, retry_at: new Date(until).toISOString() }, 'delivery paused; collection continues');
      }
      this.state = { state: 'paused', until, reason: failure.reason };
      return;
    }
    const retryAfterMs = failure.kind === 'retryable' ? failure.retryAfterMs : undefined;
    const delay = retryDelay(this.attempt, retryAfterMs, this.opts.retry, this.opts.random);
    const throttled = failure.kind === 'retryable' && failure.throttled;
    this.stats.retried++;
    if (throttled) this.stats.throttled++;
    this.state = { state: throttled ? 'throttled' : 'retrying', until: now + delay, reason: failure.reason };
    this.log.warn(
      { event: throttled ? 'hub_throttled' : 'hub_retry', reason: failure.reason, attempt: this.attempt, delay_ms: delay },
      throttled ? 'hub asked to slow down; all requests wait' : 'hub request failed; will retry',
    );
  }

  private flushLog(force: boolean): void {
    const w = this.logWindow;
    const now = Date.now();
    if (w.readings === 0 && w.requests === 0) return;
    if (!force && now - w.since < 1000) return;
    this.log.info(
      { event: 'delivered', readings: w.readings, requests: w.requests, total_delivered: this.stats.delivered, ms: now - w.since },
      `delivered ${w.readings} readings`,
    );
    this.logWindow = { readings: 0, requests: 0, since: now };
  }

  private sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (wakeOnNotify && this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = () => {
        if (!this.running || wakeOnNotify) {
          this.notified = false;
          done();
        }
      };
    });
  }
}
