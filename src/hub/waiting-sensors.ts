/**
 * The sensors of one lane whose readings wait (e.g. the token may not create them), each with
 * the reason. A held sensor's rows stay in the outbox and are left out of every read until
 * clear() (a new token may allow them: shipper.retryNow); its batches leave the in-flight
 * ledger so they do not block the other sensors. The set is persisted (informational:
 * `waiting_sensors.<lane>`) for `status`, which reads it from another process.
 */
import type { Logger } from 'pino';
import type { Outbox } from '../outbox/outbox.js';
import type { Batch } from './batch-sender.js';

export class WaitingSensors {
  private readonly reasons = new Map<string, string>();

  constructor(
    private readonly outbox: Outbox,
    private readonly lane: number,
    private readonly log: Logger,
  ) {}

  /** Sensor name -> why its readings wait. */
  get map(): ReadonlyMap<string, string> {
    return this.reasons;
  }

  has(sensor: string): boolean {
    return this.reasons.has(sensor);
  }

  /** The sensors a read leaves out. */
  names(): string[] {
    return [...this.reasons.keys()];
  }

  /** A sensor that cannot be delivered yet: its rows stay in the outbox, left out of every read. */
  hold(sensor: string, batches: readonly Batch[], reason: string): void {
    // Its batches leave the ledger (the rows stay) so they do not block the other sensors.
    for (const batch of batches) this.outbox.ledger.forget(batch.record.batchId);
    if (!this.reasons.has(sensor)) {
      this.log.error(
        { event: 'sensor_waiting', sensor, reason },
        `${reason}; its readings wait in the outbox. Add sensors: {${sensor}: {sensor_id: <uuid>}} to the config, or ask Senseye support for the Internal Hub Create permission`,
      );
    }
    this.reasons.set(sensor, reason);
    this.outbox.state.setWithoutFsync(`waiting_sensors.${this.lane}`, Object.fromEntries(this.reasons));
  }

  /** Something that blocked them may have changed: every sensor is tried again. */
  clear(): void {
    this.reasons.clear();
  }
}
