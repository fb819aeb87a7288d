/**
 * Drains one outbox lane into the hub.
 *
 * A round either resends the batches left in the in-flight ledger (after a crash or a failed
 * round: same ids, same rows), or claims the oldest waiting rows and cuts them into per-sensor
 * batches (planner.ts), records those in the ledger, and sends them: one sensor's batches in
 * order, sensors in parallel up to `concurrency`. Rows leave the outbox only when the hub
 * accepted them, so nothing is lost, and duplicates are bounded by the requests on the wire at
 * a crash (a recorded batch never sent is sent for the first time after a restart).
 *
 * Failures pause the whole sink (HubGate): Retry-After (capped) or jittered backoff for
 * retryable ones, a recheck interval for auth failures. Collection is never paused here.
 */
import type { Logger } from 'pino';
import type { MachineToken } from '../auth/token.js';
import type { Outbox } from '../outbox/outbox.js';
import { storageFaultOf } from '../outbox/storage-fault.js';
import type { InflightBatch } from '../outbox/inflight.js';
import type { ClaimedSpectrum } from '../outbox/types.js';
import { BatchSender, readingsJob, type Job, type SenderStats } from './batch-sender.js';
import type { HubClient } from './client.js';
import type { DeliveryState } from './delivery-state.js';
import { planSpectraBatches, spectraBatchId } from './encode.js';
import { PoisonRule } from './poison.js';
import { HubGate } from './gate.js';
import { RequestPacer } from './pacer.js';
import { InlinePlanner, planRoundSync, WorkerPlanner, type RoundPlanner, type RoundRequest } from './planner.js';
import { groupBySensor, type Continuation, type RoundSettings } from './round-plan.js';
import type { HubFailure } from './outcome.js';
import { retryDelay, type BackoffSettings } from '../net/retry-policy.js';
import type { SensorDirectory } from './sensors.js';
import { WaitingSensors } from './waiting-sensors.js';

export interface ShipperOptions {
  outbox: Outbox;
  client: HubClient;
  sensors: SensorDirectory;
  /** The credential in use; null while none is usable (`tokenMissing` says why). */
  token: () => MachineToken | null;
  tokenMissing?: () => string | null;
  /** Called when the delivery loop failed on an unexpected error (it has stopped). */
  onCrashed?: (err: unknown) => void;
  /** Called when the hub answered 401: the credential source may have a replacement. */
  onUnauthorized?: () => void;
  lane: number;
  logger: Logger;
  maxPoints: number;
  maxBytes: number;
  maxSpectra: number;
  maxWaitMs: number;
  concurrency: number;
  retry: BackoffSettings & { maxAgeMs?: number | undefined; poisonAfter?: number | undefined };
  maxRate?: number | null;
  /** Space requests to the rate the hub accepted after it throttled (hub.pace_after_throttling). */
  paceAfterThrottling?: boolean;
  /** How often an empty outbox is looked at again without a notify (another process may write). */
  idlePollMs?: number;
  /** How long an auth pause waits before trying again. */
  authRetryMs?: number;
  /**
   * Plan rounds ahead in a worker thread with its own connection (the daemon and backfill do);
   * otherwise on this thread. Needs the outbox in a file.
   */
  planInWorker?: boolean;
  /** The outbox's synchronous setting, for the planner worker's connection. */
  synchronous?: 'full' | 'normal';
  /** Plans full rounds instead of the worker or this thread (tests hold a plan back with it). */
  planner?: RoundPlanner;
  random?: () => number;
}

export interface ShipperStats extends SenderStats {
  retried: number;
  throttled: number;
  /** Rounds claimed and encoded while the round before them was on the wire. */
  plannedAhead: number;
  /** Rounds claimed and encoded in the planner worker (the others: on the shipper's thread). */
  plannedInWorker: number;
  /** Request bodies handed back to the planner worker for reuse (body-buffers.ts). */
  bodiesHandedBack: number;
}

export class Shipper {
  state: DeliveryState = { state: 'idle' };
  readonly stats: ShipperStats = {
    delivered: 0,
    spectraDelivered: 0,
    rejected: 0,
    requests: 0,
    retried: 0,
    throttled: 0,
    plannedAhead: 0,
    plannedInWorker: 0,
    bodiesHandedBack: 0,
  };
  readonly gate: HubGate;
  private readonly waiting: WaitingSensors;
  private readonly sender: BatchSender;
  private readonly settings: RoundSettings;
  private readonly inlinePlanner: InlinePlanner;
  /** The planner worker, started by the first full round (a probe, or a hub that is down, needs none). */
  private workerPlanner: WorkerPlanner | null = null;
  private workerUnavailable = false;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private notified = false;
  private attempt = 0;
  /** When the current streak of failed rounds began (null while rounds succeed): readiness reads it. */
  private failingSince: number | null = null;
  /** Set by the first round the hub accepted; until then, and after a failure, rounds are probes. */
  private hubAnswered = false;
  /** While a round is on the wire: where the next round may be planned from (round-plan.ts), or null. */
  private planAfter: Continuation | null = null;
  private planned: { jobs: Job[]; removals: number; next: Continuation | null } | null = null;
  /** Bumped by retryNow: a plan or continuation made before it (with other sensors left out) is void. */
  private chainEpoch = 0;
  private fillStartedAt: number | null = null;
  private flushNow = false;
  private abort = new AbortController();
  private lastEmptyCheck = false;
  private lastExpiry = 0;
  private lastAuthLog = 0;
  private readonly log: Logger;
  private logWindow = { points: 0, since: Date.now() };

  constructor(private readonly opts: ShipperOptions) {
    this.log = opts.logger;
    this.waiting = new WaitingSensors(opts.outbox, opts.lane, this.log);
    this.gate = new HubGate(
      opts.maxRate ?? null,
      {
        get: () => opts.outbox.state.get<number>('hub.pause_until')?.value ?? 0,
        set: (until) => opts.outbox.state.setInformational('hub.pause_until', until),
      },
      opts.paceAfterThrottling === false ? null : new RequestPacer(),
    );
    this.sender = new BatchSender(
      opts.outbox,
      opts.client,
      this.gate,
      this.log,
      this.stats,
      (n) => {
        this.logWindow.points += n;
      },
      (points) => {
        if (this.workerPlanner?.recycle(points) === true) this.stats.bodiesHandedBack++;
      },
      new PoisonRule(opts.retry.poisonAfter ?? 5),
    );
    this.settings = { lane: opts.lane, maxPoints: opts.maxPoints, maxBytes: opts.maxBytes, concurrency: opts.concurrency };
    this.inlinePlanner = new InlinePlanner(opts.outbox, this.settings);
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
    this.lastEmptyCheck = false;
    if (this.state.state === 'idle' || this.fillStartedAt !== null) this.wake?.();
  }

  /** Something that blocked delivery may have changed (a new token): try again now. */
  retryNow(): void {
    this.waiting.clear();
    // Sensors that waited have rows older than a chain of planned rounds: start from the oldest
    // again, also for a plan still being made (it left those sensors out).
    this.chainEpoch++;
    this.planned = null;
    this.planAfter = null;
    this.gate.resume();
    if ('until' in this.state) this.state = { state: 'flowing' };
    this.wake?.();
  }

  /** Send partial batches at once instead of waiting max_wait for them to fill (used when draining). */
  setFlushNow(flush: boolean): void {
    this.flushNow = flush;
    this.wake?.();
  }

  /** True when the last look at the lane found nothing to send and nothing is in flight. */
  isIdle(): boolean {
    return this.lastEmptyCheck && this.state.state === 'idle';
  }

  /**
   * Stops after the round in flight; requests still running after `deadlineMs` are abandoned
   * (their rows and ledger records stay; they are sent again, same ids, next start).
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
      await this.workerPlanner?.close();
      this.workerPlanner = null;
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
      let jobs = this.takePlanned();
      if (jobs === null) {
        this.planAfter = null; // claimNew sets it again for a complete round
        jobs = (probe ? await this.probeJobs() : this.resumeInflight()) ?? (await this.claimNew(now, probe));
      }
      if (jobs === null) continue; // waiting to fill, or idle
      this.state = { state: 'flowing' };
      this.sender.poison.beginRound();
      const execution = this.execute(jobs);
      // While a full round is on the wire, claim and encode the next one (the rows after it),
      // so the agent and the hub work at the same time instead of taking turns.
      if (this.planAfter !== null && !probe) await this.planAhead(this.planAfter);
      const failure = await execution;
      this.opts.outbox.ledger.witnessed(this.sender.poison.endRound());
      if (failure !== null) {
        this.planned = null;
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

  /**
   * Plans the round after the one in flight, from its continuation (the rows past it: see
   * round-plan.ts). Nothing is recorded yet: the plan is only used if that round succeeds and no
   * row was removed meanwhile, and its batches of a sensor go after that sensor's batches in
   * flight, so order holds. Only a full round is planned ahead: a smaller one would be sent
   * when the round on the wire ends, however many more readings had arrived by then (with
   * one full request as the bar, end-to-end requests averaged ~1,400 points instead of ~3,300).
   */
  private async planAhead(from: Continuation): Promise<void> {
    this.planAfter = null;
    const epoch = this.chainEpoch;
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the round's requests leave first
    const { outbox, lane } = this.opts;
    if (!this.running || outbox.claimSpectra(lane, 1).length > 0) return; // spectra wait: a normal round takes them
    // Counted before the claim: a removal after it (which the plan might include) voids the plan.
    const removals = outbox.removals;
    const fullRound = this.opts.maxPoints * this.opts.concurrency;
    const round = await this.planner(false).plan({ from, probe: false, waitingSensors: this.waiting.names(), encodeFrom: fullRound });
    if (round.readings < fullRound) return; // the normal path claims it when the round on the wire is done
    if (epoch !== this.chainEpoch) return; // retryNow meanwhile
    this.planned = { jobs: round.jobs, removals, next: round.next };
  }

  /**
   * Who plans a round: a probe is one request, planned here; full rounds go to the worker when
   * configured, started on first use so that an agent whose hub is down never starts it (and
   * its memory stays that of one thread). Until its thread is up (~0.3 s of loading modules),
   * rounds are planned here: waiting for it left the hub without a request for that long after
   * the first probe (docs/performance.md, item 19). stop() closes it.
   */
  private planner(probe: boolean): RoundPlanner {
    if (!probe && this.opts.planner !== undefined) return this.opts.planner;
    if (probe || this.opts.planInWorker !== true || this.opts.outbox.file === ':memory:' || !this.running || this.workerUnavailable) return this.inlinePlanner;
    if (this.workerPlanner === null) {
      try {
        this.workerPlanner = new WorkerPlanner(this.opts.outbox, this.settings, this.log, { synchronous: this.opts.synchronous });
      } catch (err) {
        // No thread could be created (ERR_WORKER_INIT_FAILED, resource limits): plan here.
        this.workerUnavailable = true;
        this.log.warn({ event: 'planner_stopped', reason: (err as Error).message }, 'the planner worker could not start; rounds are planned on this thread');
        return this.inlinePlanner;
      }
    }
    if (!this.workerPlanner.ready) return this.inlinePlanner;
    this.stats.plannedInWorker++;
    return this.workerPlanner;
  }

  /** The round planned ahead, if it is still valid: recorded in the ledger now, as claimNew does. */
  private takePlanned(): Job[] | null {
    const plan = this.planned;
    this.planned = null;
    if (plan === null || this.attempt > 0 || plan.removals !== this.opts.outbox.removals || this.opts.outbox.ledger.list(this.opts.lane).length > 0) return null;
    const jobs = plan.jobs.filter((j) => !this.waiting.has(j.record.sensor));
    if (jobs.length === 0) return null;
    this.planAfter = jobs.length === plan.jobs.length ? plan.next : null;
    this.lastEmptyCheck = false;
    this.opts.outbox.ledger.record(jobs.map((j) => j.record));
    this.stats.plannedAhead++;
    return jobs;
  }

  /** Batches recorded but not acknowledged (a crash or a failed round): send exactly those first. */
  private resumeInflight(): Job[] | null {
    const records = this.opts.outbox.ledger.list(this.opts.lane);
    if (records.length === 0) return null;
    this.lastEmptyCheck = false;
    return records.map((record) => this.jobFor(record));
  }

  /**
   * The one request a probe sends: the oldest recorded batch, unless it is a suspect (it failed
   * poison_after - 1 times and the hub accepted nothing since: poison.ts), in which case another
   * recorded batch, or else the oldest rows of a sensor with nothing recorded. If the hub accepts
   * that, the suspect's next failure shows it is the batch, not the hub. Null: nothing recorded.
   */
  private async probeJobs(): Promise<Job[] | null> {
    const records = this.opts.outbox.ledger.list(this.opts.lane);
    if (records.length === 0) return null;
    this.lastEmptyCheck = false;
    const poison = this.sender.poison;
    const clear = records.find((r) => !poison.suspect(r));
    if (clear !== undefined) return [this.jobFor(clear)];
    const recorded = new Set(records.map((r) => r.sensor));
    const request: RoundRequest = { probe: true, waitingSensors: [...this.waiting.names(), ...recorded], encodeFrom: 0 };
    const other = (await this.inlinePlanner.plan(request)).jobs[0];
    if (other === undefined) return [this.jobFor(records[0]!)]; // nothing else to ask with
    this.opts.outbox.ledger.record([other.record]);
    return [other];
  }

  private jobFor(record: InflightBatch): Job {
    return record.kind === 'readings'
      ? readingsJob({ ...record, kind: 'readings' }, this.opts.outbox.readingsOfBatch(record))
      : { record: { ...record, kind: 'spectra' }, items: this.opts.outbox.spectraOfBatch(record) };
  }

  private async claimNew(now: number, probe: boolean): Promise<Job[] | null> {
    const { outbox, lane, maxPoints, maxSpectra, maxWaitMs } = this.opts;
    const concurrency = probe ? 1 : this.opts.concurrency;
    // A partial round waits up to max_wait for company (not when flushing, stopping or draining spectra).
    const spectra = outbox.claimSpectra(lane, maxSpectra * concurrency, new Set(this.waiting.names()));
    const mayWait = !this.flushNow && this.running && spectra.length < maxSpectra && now - (this.fillStartedAt ?? now) < maxWaitMs;
    const request: RoundRequest = { probe, waitingSensors: this.waiting.names(), encodeFrom: mayWait ? maxPoints : 0 };
    const removals = outbox.removals;
    const epoch = this.chainEpoch;
    let round = await this.planner(probe).plan(request);
    // Rows removed while the worker planned (drop_oldest) may be in its round: plan again here.
    if (outbox.removals !== removals) round = planRoundSync(outbox, this.settings, request);
    if (round.readings === 0 && spectra.length === 0) {
      this.lastEmptyCheck = true;
      this.fillStartedAt = null;
      this.setState({ state: 'idle' });
      this.flushLog(false);
      await this.sleep(this.opts.idlePollMs ?? 1000, true);
      return null;
    }
    this.lastEmptyCheck = false;
    if (round.readings < maxPoints && mayWait) {
      this.fillStartedAt ??= now;
      await this.sleep(maxWaitMs - (now - this.fillStartedAt), true);
      return null;
    }
    this.fillStartedAt = null;
    // After a retryNow the round still holds each of its sensors' oldest rows; what follows it does not.
    this.planAfter = probe || epoch !== this.chainEpoch ? null : round.next;
    const planned = [...round.jobs, ...this.planSpectra(spectra)];
    // A probe is one request: the oldest sensor's first batch (the rest stays for the next round).
    const jobs = probe ? planned.slice(0, 1) : planned;
    outbox.ledger.record(jobs.map((j) => j.record));
    return jobs;
  }

  private planSpectra(rows: ClaimedSpectrum[]): Job[] {
    const { lane, maxSpectra, maxBytes } = this.opts;
    const jobs: Job[] = [];
    for (const [sensor, list] of groupBySensor(rows)) {
      for (const items of planSpectraBatches(list, maxSpectra, maxBytes)) {
        const ids = items.map((i) => i.id);
        jobs.push({
          record: { kind: 'spectra', batchId: spectraBatchId(lane, sensor, ids), lane, sensor, firstId: ids[0]!, lastId: ids.at(-1)! },
          items,
        });
      }
    }
    return jobs;
  }

  /** Sensors in parallel (up to `concurrency`), each sensor's jobs in order; the first failure stops new requests. */
  private async execute(jobs: Job[]): Promise<{ failure: HubFailure; at: number } | null> {
    const bySensor = new Map<string, Job[]>();
    for (const job of jobs) {
      const key = `${job.record.kind}\u0000${job.record.sensor}`;
      let list = bySensor.get(key);
      if (list === undefined) bySensor.set(key, (list = []));
      list.push(job);
    }
    const queue = [...bySensor.values()];
    // The first failure stops new requests; a Retry-After counts from the answer of the last
    // one (every throttling answer of the round is honoured), not from the end of the round.
    // Requests still waiting at the gate (pacing, max_rate) when a failure comes back are not
    // sent: the pause is decided once the round is over, and they must not slip into it.
    let failure: HubFailure | null = null;
    let lastFailedAt = 0;
    const held = new AbortController();
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined && failure === null; next = queue.shift()) {
        const f = await this.shipSensor(next, () => failure !== null, held.signal);
        if (f === null) continue;
        if (failure === null) held.abort();
        failure ??= f;
        lastFailedAt = Date.now();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, queue.length) }, worker));
    return failure === null ? null : { failure, at: lastFailedAt };
  }

  private async shipSensor(jobs: Job[], stopped: () => boolean, held: AbortSignal): Promise<HubFailure | null> {
    const first = jobs[0]!.record;
    const ingest = first.kind === 'readings' ? 'timeseries' : 'frequency';
    if (this.opts.sensors.knownId(first.sensor) === null && this.opts.token()?.canCreate() === false) {
      this.waiting.hold(first.sensor, jobs, `the token lacks Internal Hub Create, so sensor "${first.sensor}" cannot be created`);
      return null;
    }
    const addressed = await this.opts.sensors.address(first.sensor, ingest, this.abort.signal);
    if (addressed.kind === 'failed') {
      if (addressed.failure.kind === 'forbidden') {
        this.waiting.hold(first.sensor, jobs, `the hub refused to create sensor "${first.sensor}": ${addressed.failure.reason}`);
        return null;
      }
      return addressed.failure;
    }
    for (const job of jobs) {
      if (stopped()) return null;
      const failure = await this.sender.send(job, addressed.address, this.abort.signal, held);
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
    this.stats.retried++;
    if (throttled) this.stats.throttled++;
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
        this.opts.outbox.state.setInformational(`delivery.${this.opts.lane}`, { ...next, pid: process.pid });
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
        total_delivered: this.stats.delivered + this.stats.spectraDelivered,
        ms: now - w.since,
        requests: this.stats.requests,
        planned_ahead: this.stats.plannedAhead,
      },
      `delivered ${w.points} readings`,
    );
    this.logWindow = { points: 0, since: now };
  }

  private sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (wakeOnNotify && this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = () => {
        this.notified = false;
        if (!this.running || wakeOnNotify || !('until' in this.state) || this.state.until <= Date.now()) done();
      };
    });
  }
}
