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
import type { ClaimedReading, ClaimedSpectrum } from '../outbox/types.js';
import type { HubClient } from './client.js';
import { batchId, encodeDataPoint, encodeMutation, encodeSpectrum, spectraBatchId, type SensorAddress } from './encode.js';
import type { HubGate } from './gate.js';
import type { HubFailure } from './outcome.js';

export type Job =
  /** `points`: the items already encoded when the batch was planned (encoding is a large share of delivery CPU). */
  | { record: InflightBatch & { kind: 'readings' }; items: ClaimedReading[]; points?: string[] }
  | { record: InflightBatch & { kind: 'spectra' }; items: ClaimedSpectrum[] };

export interface SenderStats {
  delivered: number;
  spectraDelivered: number;
  rejected: number;
  requests: number;
  /** requests by outcome: "200", "429", "network", ... */
  byStatus: Map<string, number>;
}

export class BatchSender {
  constructor(
    private readonly outbox: Outbox,
    private readonly client: HubClient,
    private readonly gate: HubGate,
    private readonly log: Logger,
    private readonly stats: SenderStats,
    private readonly onDelivered: (points: number) => void,
  ) {}

  /** Returns null when the batch is settled, or the failure that stopped it. */
  /**
   * `signal` stops everything (also a request on the wire); `held`, when given, only keeps a
   * request that still waits for its turn at the gate from being sent.
   */
  async send(job: Job, address: SensorAddress, signal: AbortSignal, held?: AbortSignal): Promise<HubFailure | null> {
    const { record } = job;
    if (job.items.length === 0) {
      this.outbox.ledger.forget(record.batchId); // rows gone (dropped or expired): nothing to send
      return null;
    }
    try {
      await this.gate.admit(job.items.length, held === undefined ? signal : AbortSignal.any([signal, held]));
    } catch {
      return { kind: 'retryable', status: null, throttled: false, retryAfterMs: undefined, reason: 'stopped before sending' };
    }
    const outcome =
      job.record.kind === 'readings'
        ? await this.client.storeMeasures(
            encodeMutation(address, record.batchId, ('points' in job ? job.points : undefined) ?? (job.items as ClaimedReading[]).map(encodeDataPoint)),
            record.batchId,
            signal,
          )
        : await this.client.storeSpectra(
            `[${(job.items as ClaimedSpectrum[]).map((s) => encodeSpectrum(address, s.ts, s.body)).join(',')}]`,
            record.batchId,
            signal,
          );
    this.stats.requests++;
    const label = outcome.status === null ? 'network' : String(outcome.status);
    this.stats.byStatus.set(label, (this.stats.byStatus.get(label) ?? 0) + 1);
    const ids = job.items.map((i) => i.id);
    if (outcome.kind === 'ok' || outcome.kind === 'conflict') this.gate.pacer?.onAccepted();
    else if (outcome.kind === 'retryable' && outcome.throttled) this.gate.pacer?.onThrottled();
    switch (outcome.kind) {
      case 'ok':
      case 'conflict':
        if (record.kind === 'readings') {
          this.outbox.ack(ids, record.batchId, record.lane);
          this.stats.delivered += ids.length;
        } else {
          this.outbox.ackSpectra(ids, record.batchId, record.lane);
          this.stats.spectraDelivered += ids.length;
        }
        this.onDelivered(ids.length);
        return null;
      case 'too_large':
      case 'rejected':
        if (job.items.length === 1) {
          this.deadLetter(job, `hub refused: ${outcome.reason}`);
          return null;
        }
        return this.bisect(job, address, signal, held);
      default:
        return outcome;
    }
  }

  private async bisect(job: Job, address: SensorAddress, signal: AbortSignal, held?: AbortSignal): Promise<HubFailure | null> {
    const mid = Math.ceil(job.items.length / 2);
    const parts = [job.items.slice(0, mid), job.items.slice(mid)].map((items) => this.childJob(job, items));
    this.outbox.ledger.split(
      job.record.batchId,
      parts.map((p) => p.record),
    );
    for (const part of parts) {
      const failure = await this.send(part, address, signal, held);
      if (failure !== null) return failure;
    }
    return null;
  }

  private childJob(parent: Job, items: Array<ClaimedReading | ClaimedSpectrum>): Job {
    const { lane, sensor } = parent.record;
    const ids = items.map((i) => i.id);
    const base = { lane, sensor, firstId: ids[0]!, lastId: ids.at(-1)! };
    return parent.record.kind === 'readings'
      ? { record: { ...base, kind: 'readings', batchId: batchId(lane, sensor, items as ClaimedReading[]) }, items: items as ClaimedReading[] }
      : { record: { ...base, kind: 'spectra', batchId: spectraBatchId(lane, sensor, ids) }, items: items as ClaimedSpectrum[] };
  }

  private deadLetter(job: Job, reason: string): void {
    const { record } = job;
    if (record.kind === 'readings') {
      this.outbox.reject(job.items as ClaimedReading[], record.lane, reason, record.batchId);
    } else {
      this.outbox.rejectSpectra(job.items as ClaimedSpectrum[], record.lane, reason, record.batchId);
    }
    this.stats.rejected++;
    const item = job.items[0]!;
    this.log.warn(
      { event: 'reading_rejected', sensor: record.sensor, kind: record.kind, ts: new Date(item.ts).toISOString(), reason },
      'the hub refused a reading; it is in the dead-letter table',
    );
  }
}
