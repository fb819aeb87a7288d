/**
 * Where the shipper's next round comes from, and who plans it. The only place that decides:
 * in order, a round planned ahead that is still valid; else, for a probe (the first round and
 * every round after a failure), one recorded batch; otherwise every batch of the in-flight
 * ledger (same ids, same rows); else newly read rows (planner.ts), which a partial round may
 * wait max_wait to fill. A round is recorded in the ledger before it is returned, so nothing is
 * sent that a crash could lose track of; a plan made ahead is recorded only when taken.
 *
 * Order per sensor holds across a chain of rounds planned ahead: each starts where the one on
 * the wire ends (its continuation, round-plan.ts), and anything that could put older rows
 * behind it (a failure, a removal, retryNow releasing waiting sensors) voids the chain, which
 * then starts again from the oldest row.
 *
 * The shipper reaches this through RoundHost (sleeping, whether it runs, its counters, its
 * waiting sensors) and nothing else. Full rounds are planned by the worker or on this thread;
 * a `fullRounds` planner given to the constructor replaces both. That is a seam for tests (they
 * hold a plan back with it), passed as the Shipper's second constructor argument and never by
 * production code: it is not a ShipperOptions field, which carries only what the config says.
 */
import type { InflightBatch } from '../outbox/inflight.js';
import type { WaitingSpectrum } from '../outbox/types.js';
import { readingsBatch, spectraBatch, type Batch } from './batch-sender.js';
import { planSpectraBatches, spectraBatchId } from './encode.js';
import { InlinePlanner, planRoundSync, WorkerPlanner, type RoundPlanner, type RoundRequest } from './planner.js';
import type { PoisonRule } from './poison.js';
import { groupBySensor, type Continuation, type RoundSettings } from './round-plan.js';
import type { ShipperOptions, ShipperStats } from './shipper-options.js';
import type { WaitingSensors } from './waiting-sensors.js';

export type RoundSourceOptions = Pick<
  ShipperOptions,
  'outbox' | 'lane' | 'logger' | 'maxPoints' | 'maxBytes' | 'maxSpectra' | 'maxWaitMs' | 'concurrency' | 'idlePollMs' | 'planInWorker' | 'synchronous'
>;

/** What the round source needs of the shipper. */
export interface RoundHost {
  /** False once stop() began: nothing waits to fill, and no worker is started. */
  isRunning(): boolean;
  /** Waits up to `ms`; with `wakeOnNotify`, new rows end the wait. */
  sleep(ms: number, wakeOnNotify: boolean): Promise<void>;
  /** The lane was found empty: delivery is idle. */
  idle(): void;
  readonly waiting: WaitingSensors;
}

export class RoundSource {
  /** Rounds planned ahead, and of those in the worker (reported by Shipper.stats()). */
  readonly counts = { plannedAhead: 0, plannedInWorker: 0 };
  /** Send partial rounds at once instead of waiting max_wait for them to fill (used when draining). */
  flushNow = false;
  private readonly settings: RoundSettings;
  private readonly inlinePlanner: InlinePlanner;
  /** The planner worker, started by the first full round (a probe, or a hub that is down, needs none). */
  private workerPlanner: WorkerPlanner | null = null;
  private workerUnavailable = false;
  /** While a round is on the wire: where the next round may be planned from (round-plan.ts), or null. */
  private planAfter: Continuation | null = null;
  private planned: { batches: Batch[]; removals: number; next: Continuation | null } | null = null;
  /** Bumped by retryNow: a plan or continuation made before it (with other sensors left out) is void. */
  private chainEpoch = 0;
  private fillStartedAt: number | null = null;
  private lastLookFoundNothing = false;

  constructor(
    private readonly opts: RoundSourceOptions,
    private readonly host: RoundHost,
    private readonly poison: PoisonRule,
    private readonly fullRounds?: RoundPlanner,
  ) {
    this.settings = { lane: opts.lane, maxPoints: opts.maxPoints, maxBytes: opts.maxBytes, concurrency: opts.concurrency };
    this.inlinePlanner = new InlinePlanner(opts.outbox, this.settings);
  }

  /** True when the last look at the lane found nothing to send. */
  get foundEmpty(): boolean {
    return this.lastLookFoundNothing;
  }

  /** New rows were committed. True while a partial round waits to fill (the wait may end now). */
  rowsArrived(): boolean {
    this.lastLookFoundNothing = false;
    return this.fillStartedAt !== null;
  }

  /**
   * The next round's batches, recorded in the ledger, or null (the lane is empty, or a partial
   * round waits to fill: this slept meanwhile). `failing`: the last round failed.
   */
  async next(now: number, probe: boolean, failing: boolean): Promise<Batch[] | null> {
    const batches = this.takePlanned(failing);
    if (batches !== null) return batches;
    this.planAfter = null; // readNew sets it again for a complete round
    return (probe ? await this.probeJobs() : this.resumeInflight()) ?? (await this.readNew(now, probe));
  }

  /**
   * While a full round is on the wire, read and encode the next one (the rows after it),
   * so the agent and the hub work at the same time instead of taking turns.
   */
  async whileOnTheWire(probe: boolean): Promise<void> {
    if (this.planAfter !== null && !probe) await this.planAhead(this.planAfter);
  }

  /** The round failed: the plan made after it is void (its rows are resent from the oldest). */
  roundFailed(): void {
    this.planned = null;
  }

  /** Sensors that waited have rows older than a chain of planned rounds: start from the oldest again. */
  restartChain(): void {
    // Also for a plan still being made (it left those sensors out).
    this.chainEpoch++;
    this.planned = null;
    this.planAfter = null;
  }

  /** An accepted batch's points: back to the worker's pool when it planned them (body-buffers.ts). */
  recycle(points: Uint8Array): boolean {
    return this.workerPlanner?.recycle(points) === true;
  }

  async close(): Promise<void> {
    await this.workerPlanner?.close();
    this.workerPlanner = null;
  }

  /**
   * Plans the round after the one in flight, from its continuation (the rows past it: see
   * round-plan.ts). Nothing is recorded yet: the plan is only used if that round succeeds and no
   * row was removed meanwhile, and its batches of a sensor go after that sensor's batches in
   * flight, so order holds. Only a full round is planned ahead: a smaller one would be sent
   * when the round on the wire ends, however many more readings had arrived by then.
   */
  private async planAhead(from: Continuation): Promise<void> {
    this.planAfter = null;
    const epoch = this.chainEpoch;
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the round's requests leave first
    const { outbox, lane } = this.opts;
    if (!this.host.isRunning() || outbox.readWaitingSpectra(lane, 1).length > 0) return; // spectra wait: a normal round takes them
    // Counted before the read: a removal after it (which the plan might include) voids the plan.
    const removals = outbox.removals;
    const fullRound = this.opts.maxPoints * this.opts.concurrency;
    const round = await this.planner(false).plan({ from, probe: false, waitingSensors: this.host.waiting.names(), minReadings: fullRound });
    if (round.readings < fullRound) return; // the normal path reads it when the round on the wire is done
    if (epoch !== this.chainEpoch) return; // retryNow meanwhile
    this.planned = { batches: round.batches, removals, next: round.next };
  }

  /**
   * Who plans a round: a probe is one request, planned here; full rounds go to the worker when
   * configured, started on first use so that an agent whose hub is down never starts it (and
   * its memory stays that of one thread). Until its thread is up (~0.3 s of loading modules),
   * rounds are planned here: waiting for it would leave the hub without a request for that long
   * after the first probe. close() closes it.
   */
  private planner(probe: boolean): RoundPlanner {
    if (!probe && this.fullRounds !== undefined) return this.fullRounds;
    if (probe || this.opts.planInWorker !== true || this.opts.outbox.file === ':memory:' || !this.host.isRunning() || this.workerUnavailable) return this.inlinePlanner;
    if (this.workerPlanner === null) {
      try {
        this.workerPlanner = new WorkerPlanner(this.opts.outbox, this.settings, this.opts.logger, { synchronous: this.opts.synchronous });
      } catch (err) {
        // No thread could be created (ERR_WORKER_INIT_FAILED, resource limits): plan here.
        this.workerUnavailable = true;
        this.opts.logger.warn({ event: 'planner_stopped', reason: (err as Error).message }, 'the planner worker could not start; rounds are planned on this thread');
        return this.inlinePlanner;
      }
    }
    if (!this.workerPlanner.ready) return this.inlinePlanner;
    this.counts.plannedInWorker++;
    return this.workerPlanner;
  }

  /** The round planned ahead, if it is still valid: recorded in the ledger now, as readNew does. */
  private takePlanned(failing: boolean): Batch[] | null {
    const plan = this.planned;
    this.planned = null;
    if (plan === null || failing || plan.removals !== this.opts.outbox.removals || this.opts.outbox.ledger.list(this.opts.lane).length > 0) return null;
    const batches = plan.batches.filter((j) => !this.host.waiting.has(j.record.sensor));
    if (batches.length === 0) return null;
    this.planAfter = batches.length === plan.batches.length ? plan.next : null;
    this.lastLookFoundNothing = false;
    this.opts.outbox.ledger.record(batches.map((j) => j.record));
    this.counts.plannedAhead++;
    return batches;
  }

  /** Batches recorded but not acknowledged (a crash or a failed round): send exactly those first. */
  private resumeInflight(): Batch[] | null {
    const records = this.opts.outbox.ledger.list(this.opts.lane);
    if (records.length === 0) return null;
    this.lastLookFoundNothing = false;
    return records.map((record) => this.batchFor(record));
  }

  /**
   * The one request a probe sends: the oldest recorded batch, unless it is a suspect (it failed
   * poison_after - 1 times and the hub accepted nothing since: poison.ts), in which case another
   * recorded batch, or else the oldest rows of a sensor with nothing recorded. If the hub accepts
   * that, the suspect's next failure shows it is the batch, not the hub. Null: nothing recorded.
   */
  private async probeJobs(): Promise<Batch[] | null> {
    const records = this.opts.outbox.ledger.list(this.opts.lane);
    if (records.length === 0) return null;
    this.lastLookFoundNothing = false;
    const clear = records.find((r) => !this.poison.suspect(r));
    if (clear !== undefined) return [this.batchFor(clear)];
    const recorded = new Set(records.map((r) => r.sensor));
    const request: RoundRequest = { probe: true, waitingSensors: [...this.host.waiting.names(), ...recorded], minReadings: 0 };
    const other = (await this.inlinePlanner.plan(request)).batches[0];
    if (other === undefined) {
      // Nothing else to ask with: the suspect tried least recently, so that suspects take turns
      // (the halves of a split batch: one going through is what shows the other is poisoned).
      const leastRecent = records.reduce((a, b) => ((b.lastFailedAt ?? 0) < (a.lastFailedAt ?? 0) ? b : a));
      return [this.batchFor(leastRecent)];
    }
    this.opts.outbox.ledger.record([other.record]);
    return [other];
  }

  private batchFor(record: InflightBatch): Batch {
    return record.kind === 'readings'
      ? readingsBatch({ ...record, kind: 'readings' }, this.opts.outbox.readingsOfBatch(record))
      : spectraBatch({ ...record, kind: 'spectra' }, this.opts.outbox.spectraOfBatch(record));
  }

  private async readNew(now: number, probe: boolean): Promise<Batch[] | null> {
    const { outbox, lane, maxPoints, maxSpectra, maxWaitMs } = this.opts;
    const concurrency = probe ? 1 : this.opts.concurrency;
    const waiting = this.host.waiting;
    // A partial round waits up to max_wait for company (not when flushing, stopping or draining spectra).
    const spectra = outbox.readWaitingSpectra(lane, maxSpectra * concurrency, new Set(waiting.names()));
    const mayWait = !this.flushNow && this.host.isRunning() && spectra.length < maxSpectra && now - (this.fillStartedAt ?? now) < maxWaitMs;
    const request: RoundRequest = { probe, waitingSensors: waiting.names(), minReadings: mayWait ? maxPoints : 0 };
    const removals = outbox.removals;
    const epoch = this.chainEpoch;
    let round = await this.planner(probe).plan(request);
    // Rows removed while the worker planned (drop_oldest) may be in its round: plan again here.
    if (outbox.removals !== removals) round = planRoundSync(outbox.reader, this.settings, request);
    if (round.readings === 0 && spectra.length === 0) {
      this.lastLookFoundNothing = true;
      this.fillStartedAt = null;
      this.host.idle();
      await this.host.sleep(this.opts.idlePollMs ?? 1000, true);
      return null;
    }
    this.lastLookFoundNothing = false;
    if (round.readings < maxPoints && mayWait) {
      this.fillStartedAt ??= now;
      await this.host.sleep(maxWaitMs - (now - this.fillStartedAt), true);
      return null;
    }
    this.fillStartedAt = null;
    // After a retryNow the round still holds each of its sensors' oldest rows; what follows it does not.
    this.planAfter = probe || epoch !== this.chainEpoch ? null : round.next;
    const planned = [...round.batches, ...this.planSpectra(spectra)];
    // A probe is one request: the oldest sensor's first batch (the rest stays for the next round).
    const batches = probe ? planned.slice(0, 1) : planned;
    outbox.ledger.record(batches.map((j) => j.record));
    return batches;
  }

  private planSpectra(rows: WaitingSpectrum[]): Batch[] {
    const { lane, maxSpectra, maxBytes } = this.opts;
    const batches: Batch[] = [];
    for (const [sensor, list] of groupBySensor(rows)) {
      for (const items of planSpectraBatches(list, maxSpectra, maxBytes)) {
        const ids = items.map((i) => i.id);
        batches.push(spectraBatch({ kind: 'spectra', batchId: spectraBatchId(lane, sensor, ids), lane, sensor, firstId: ids[0]!, lastId: ids.at(-1)! }, items));
      }
    }
    return batches;
  }
}
