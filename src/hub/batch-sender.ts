/**
 * Sends one recorded batch and settles it: acknowledged (rows deleted with their ledger
 * record), or split (413: halves; a permanent rejection: bisected until the refused points are
 * alone, and only those go to dead letters with the hub's message), or left in place with the
 * failure returned (retryable, auth) for the shipper to pause on.
 * Every split replaces the parent's ledger record with its parts before they are sent, so a
 * crash mid-bisect resends exactly the parts, under their own ids.
 */
import type { Logger } from 'pino';
import type { InflightBatch } from '../outbox/inflight.js';
import type { Outbox } from '../outbox/outbox.js';
import { storageFaultOf } from '../outbox/storage-fault.js';
import type { WaitingReading, WaitingSpectrum } from '../outbox/types.js';
import type { HubClient } from './client.js';
import { batchId, encodeDataPoint, encodeMutation, encodeSpectrum, spectraBatchId, type EncodedPoints, type SensorAddress } from './encode.js';
import type { HubGate } from './gate.js';
import { retryable, type HubFailure } from './outcome.js';
import { PoisonRule } from './poison.js';

/**
 * A batch of readings to send. `ids` are its rows; `items` the rows themselves, absent when it
 * was planned in the planner worker (only a split needs them: they are read back then);
 * `points` the rows' encoded points joined with commas (UTF-8), when encoded at planning
 * (encoding is a large share of delivery CPU).
 */
export interface ReadingsBatch {
  kind: 'readings';
  record: InflightBatch & { kind: 'readings' };
  ids: readonly number[];
  items?: WaitingReading[] | undefined;
  points?: EncodedPoints | undefined;
}

export interface SpectraBatch {
  kind: 'spectra';
  record: InflightBatch & { kind: 'spectra' };
  items: WaitingSpectrum[];
}

export type Batch = ReadingsBatch | SpectraBatch;

/** A readings batch for rows already loaded (resent from the ledger, or a part of a split). */
export function readingsBatch(record: InflightBatch & { kind: 'readings' }, items: WaitingReading[]): ReadingsBatch {
  return { kind: 'readings', record, ids: items.map((r) => r.id), items };
}

export function spectraBatch(record: InflightBatch & { kind: 'spectra' }, items: WaitingSpectrum[]): SpectraBatch {
  return { kind: 'spectra', record, items };
}

export interface SenderStats {
  delivered: number;
  spectraDelivered: number;
  rejected: number;
  requests: number;
}

/** What a split found, for the one summary line logged per batch the hub refused points of. */
interface Refusals {
  points: number;
  firstReason: string | null;
  /**
   * Set once the batch was judged poisoned (poison.ts): while it is split, a part that fails
   * with the same status is poisoned too (the evidence is the parent's), anything else pauses.
   */
  poisonStatus?: number | null;
}

export class BatchSender {
  /** What this sender did (the shipper reports them with its own: Shipper.stats()). */
  readonly counts: SenderStats = { delivered: 0, spectraDelivered: 0, rejected: 0, requests: 0 };
  constructor(
    private readonly outbox: Outbox,
    private readonly client: HubClient,
    private readonly gate: HubGate,
    private readonly log: Logger,
    private readonly onDelivered: (points: number) => void,
    /** A planned batch's points after the hub accepted them: their buffer may be reused. */
    private readonly recycle: (points: Uint8Array) => void = () => undefined,
    /** Tells a batch the hub keeps failing from an outage (hub.retry.poison_after). */
    readonly poison: PoisonRule = new PoisonRule(5),
  ) {}

  /**
   * Returns null when the batch is settled, or the failure that stopped it. `signal` stops
   * everything (also a request on the wire); `roundFailed`, when given, only keeps a request that
   * still waits for its turn at the gate from being sent. Points the hub refused are logged in
   * one summary per batch, however many requests the split took.
   */
  async send(batch: Batch, address: SensorAddress, signal: AbortSignal, roundFailed?: AbortSignal): Promise<HubFailure | null> {
    const refusals: Refusals = { points: 0, firstReason: null };
    const failure = await this.attempt(batch, address, signal, roundFailed, refusals);
    if (refusals.points > 0) {
      const size = batch.kind === 'readings' ? batch.ids.length : batch.items.length;
      this.log.warn(
        { event: 'batch_refused', sensor: batch.record.sensor, kind: batch.record.kind, batch: batch.record.batchId, refused: refusals.points, of: size, reason: refusals.firstReason },
        `the hub refused ${refusals.points} of ${size} ${batch.record.kind} of sensor "${batch.record.sensor}"; they are in the dead-letter table (senseye-agent dlq list)`,
      );
    }
    return failure;
  }

  private async attempt(batch: Batch, address: SensorAddress, signal: AbortSignal, roundFailed: AbortSignal | undefined, refusals: Refusals): Promise<HubFailure | null> {
    const { record } = batch;
    const ids = batch.kind === 'readings' ? batch.ids : batch.items.map((i) => i.id);
    if (ids.length === 0) {
      this.outbox.ledger.forget(record.batchId); // rows gone (dropped or expired): nothing to send
      return null;
    }
    try {
      await this.gate.admit(ids.length, signal, roundFailed);
    } catch {
      return retryable('network', null, 'stopped before sending');
    }
    const outcome =
      batch.kind === 'readings'
        ? await this.client.storeMeasures(encodeMutation(address, record.batchId, pointsOf(batch)), record.batchId, signal)
        : await this.client.storeSpectra(
            `[${batch.items.map((s) => encodeSpectrum(address, s.ts, s.body)).join(',')}]`,
            record.batchId,
            signal,
          );
    this.counts.requests++;
    if (outcome.kind === 'ok' || outcome.kind === 'conflict') this.gate.pacer?.onAccepted();
    else if (outcome.kind === 'retryable' && outcome.throttled) this.gate.pacer?.onThrottled();
    switch (outcome.kind) {
      case 'ok':
      case 'conflict': {
        this.poison.accepted();
        const unacknowledged = this.acknowledge(record, ids);
        if (unacknowledged !== null) return unacknowledged;
        this.onDelivered(ids.length);
        // Only after a 200: the hub answered the mutation, so it read the whole body and nothing is
        // still being written from this buffer. A 409 may come from headers alone (an idempotency
        // layer) while the socket still sends the body; a failed batch keeps it for the resend.
        if (outcome.kind === 'ok' && batch.kind === 'readings' && batch.points !== undefined) this.recycle(batch.points);
        return null;
      }
      case 'too_large':
      case 'rejected': {
        const readBack = batch.kind === 'readings' && batch.items === undefined;
        const items = this.itemsOf(batch);
        // Rows read back for a batch planned in the worker may be fewer, even none, if
        // drop_oldest deleted some while it was on the wire: only those still there go on.
        if (items.length === 0) {
          this.outbox.ledger.forget(record.batchId);
          return null;
        }
        if (items.length === 1) return this.deadLetter(batch, items, `hub refused: ${outcome.reason}`, refusals);
        return this.bisect(batch, items, readBack, address, signal, roundFailed, refusals);
      }
      default: {
        if (!this.poison.counts(outcome)) return outcome;
        const previous = record.lastFailedAt ?? null;
        const evidenceBefore = record.evidence ?? 0;
        const attempts = this.outbox.ledger.failed(record, outcome.reason);
        const judged = this.poison.failed(record, previous);
        if ((record.evidence ?? 0) > evidenceBefore) this.outbox.ledger.witnessed([record.batchId]);
        // Inside a poisoned split a part's failure is judged by its sibling (splitPoisoned).
        if (refusals.poisonStatus !== undefined || !judged) return outcome;
        refusals.poisonStatus = outcome.status;
        return this.splitPoisoned(batch, outcome, attempts, address, signal, roundFailed, refusals);
      }
    }
  }

  /**
   * A batch the hub keeps failing: split in halves, each sent. A half that fails again the same
   * way is only taken for poisoned when its sibling went through (the hub is up right now): then
   * it is split in turn, and a single reading dead-lettered. When both fail, it may be an outage
   * that began meanwhile: the failure is returned (delivery pauses) and the halves stay in the
   * ledger, with their parent's failures, to be judged again later. So the halves of one batch
   * may reach the hub out of order; an outage never causes a dead letter.
   */
  private async splitPoisoned(
    batch: Batch,
    outcome: HubFailure,
    attempts: number,
    address: SensorAddress,
    signal: AbortSignal,
    roundFailed: AbortSignal | undefined,
    refusals: Refusals,
  ): Promise<HubFailure | null> {
    const { record } = batch;
    const items = this.itemsOf(batch);
    if (items.length === 0) {
      this.outbox.ledger.forget(record.batchId);
      return null;
    }
    const reason = `the hub failed this batch ${attempts} times while it accepted others (hub.retry.poison_after ${this.poison.after}); last: ${outcome.reason}`;
    if (items.length === 1) return this.deadLetter(batch, items, reason, refusals);
    if (refusals.points === 0) {
      this.log.warn(
        { event: 'batch_poisoned', sensor: record.sensor, batch: record.batchId, attempts, points: items.length, reason: outcome.reason },
        `the hub keeps failing one batch of sensor "${record.sensor}" while it accepts others: splitting it to find what it refuses`,
      );
    }
    const mid = Math.ceil(items.length / 2);
    const parts = [items.slice(0, mid), items.slice(mid)].map((part) => this.childBatch(batch, part));
    this.outbox.ledger.split(
      record.batchId,
      parts.map((p) => p.record),
    );
    const results: Array<HubFailure | null> = [];
    for (const part of parts) results.push(await this.attempt(part, address, signal, roundFailed, refusals));
    const siblingWentThrough = results.some((r) => r === null);
    for (let i = 0; i < parts.length; i++) {
      const r = results[i]!;
      if (r === null || !siblingWentThrough || !this.poison.counts(r) || r.status !== refusals.poisonStatus) continue;
      results[i] = await this.splitPoisoned(parts[i]!, r, parts[i]!.record.attempts ?? attempts, address, signal, roundFailed, refusals);
    }
    return results.find((r) => r !== null) ?? null;
  }

  /**
   * Deletes delivered rows. A storage error here (disk full, I/O error) is not a crash: the rows
   * and their ledger record stay, the failure is recorded as a storage fault and returned as
   * retryable, and the batch is sent again later under its id: a duplicate, never a loss.
   */
  private acknowledge(record: InflightBatch, ids: readonly number[]): HubFailure | null {
    try {
      if (record.kind === 'readings') {
        this.outbox.ack(ids, record.batchId, record.lane);
        this.counts.delivered += ids.length;
      } else {
        this.outbox.ackSpectra(ids, record.batchId, record.lane);
        this.counts.spectraDelivered += ids.length;
      }
      return null;
    } catch (err) {
      if (storageFaultOf(err) === null) throw err;
      this.outbox.storageFaults?.writeFailed(err, 'ack');
      const reason = `the hub accepted batch ${record.batchId}, but deleting its rows from the outbox failed (${(err as { code?: string }).code}): it is sent again later`;
      this.log.error({ event: 'outbox_ack_failed', batch_id: record.batchId, points: ids.length, err }, reason);
      return retryable('storage', null, reason);
    }
  }

  private async bisect(
    batch: Batch,
    items: Array<WaitingReading | WaitingSpectrum>,
    readBack: boolean,
    address: SensorAddress,
    signal: AbortSignal,
    roundFailed: AbortSignal | undefined,
    refusals: Refusals,
  ): Promise<HubFailure | null> {
    this.log.debug({ event: 'batch_split', sensor: batch.record.sensor, points: items.length, rows_read_back: readBack }, 'the hub refused a batch: sending it in halves');
    const mid = Math.ceil(items.length / 2);
    const parts = [items.slice(0, mid), items.slice(mid)].map((part) => this.childBatch(batch, part));
    this.outbox.ledger.split(
      batch.record.batchId,
      parts.map((p) => p.record),
    );
    for (const part of parts) {
      const failure = await this.attempt(part, address, signal, roundFailed, refusals);
      if (failure !== null) return failure;
    }
    return null;
  }

  private childBatch(parent: Batch, items: Array<WaitingReading | WaitingSpectrum>): Batch {
    const { lane, sensor, attempts, lastFailedAt, lastError, evidence } = parent.record;
    const ids = items.map((i) => i.id);
    // A part inherits its parent's failures: after a restart mid-split it is not trusted afresh.
    const base = { lane, sensor, firstId: ids[0]!, lastId: ids.at(-1)!, attempts, lastFailedAt, lastError, evidence };
    return parent.kind === 'readings'
      ? readingsBatch({ ...base, kind: 'readings', batchId: batchId(lane, sensor, items as WaitingReading[]) }, items as WaitingReading[])
      : spectraBatch({ ...base, kind: 'spectra', batchId: spectraBatchId(lane, sensor, ids) }, items as WaitingSpectrum[]);
  }

  /** The batch's rows; a batch planned in the worker carries only ids, so they are read back (rare: splits). */
  private itemsOf(batch: Batch): Array<WaitingReading | WaitingSpectrum> {
    if (batch.kind === 'spectra') return batch.items;
    batch.items ??= this.outbox.readingsOfBatch(batch.record); // a batch is all of its sensor's rows first..last (inflight.ts)
    return batch.items;
  }

  /** Moves a refused reading to dead letters; on a full disk it stays where it is and is sent again later. */
  private deadLetter(batch: Batch, items: Array<WaitingReading | WaitingSpectrum>, reason: string, refusals: Refusals): HubFailure | null {
    const { record } = batch;
    try {
      if (record.kind === 'readings') {
        this.outbox.reject(items as WaitingReading[], record.lane, reason, record.batchId);
      } else {
        this.outbox.rejectSpectra(items as WaitingSpectrum[], record.lane, reason, record.batchId);
      }
    } catch (err) {
      if (storageFaultOf(err) === null) throw err;
      this.outbox.storageFaults?.writeFailed(err, 'ack');
      const why = `the hub refused a reading of batch ${record.batchId}, but moving it to dead letters failed (${(err as { code?: string }).code}): it is sent again later`;
      this.log.error({ event: 'outbox_reject_failed', batch_id: record.batchId, err }, why);
      return retryable('storage', null, why);
    }
    this.counts.rejected++;
    refusals.points += items.length;
    refusals.firstReason ??= reason;
    const item = items[0]!;
    // One line per batch at warn (send()); each reading only at debug.
    this.log.debug({ event: 'reading_rejected', sensor: record.sensor, kind: record.kind, ts: new Date(item.ts).toISOString(), reason }, 'the hub refused a reading');
    return null;
  }
}

/** The batch's encoded points: encoded when it was planned, or now (resent batches, parts of a split). */
function pointsOf(batch: ReadingsBatch): EncodedPoints | string[] {
  return batch.points ?? (batch.items ?? []).map(encodeDataPoint);
}
