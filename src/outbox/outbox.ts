/**
 * The durable outbox (goqite's contract, made durable in one SQLite file): a facade over its
 * parts, each in its own module:
 * - appender.ts: readings, spectra, dead letters and source positions commit in ONE transaction;
 * - reader.ts: the read queries (no row is written on read; one process ships one lane), all
 *   the planner worker opens;
 * - removals.ts: ack / reject / expire / drop, rows leave only after the hub accepted them, into
 *   dead letters with a reason, or counted as dropped under `when_full: drop_oldest`;
 * - counters.ts, checkpoints.ts, hub-sensor-ids.ts, inflight.ts, state-store.ts.
 * Counters change in the same transactions, so appended = delivered + rejected + expired +
 * dropped + depth holds exactly, and metrics never drift from the data. The database handle is
 * private to src/outbox (handle.ts).
 */
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { openDatabase, type OpenOptions } from './db.js';
import { DeadLetters } from './dead-letters.js';
import { InflightLedger, type InflightBatch } from './inflight.js';
import { StateStore } from './state-store.js';
import { StreamRegistry } from './streams.js';
import { storageFaultOf, type StorageFaults } from './storage-fault.js';
import { LIVE_LANE, type WaitingReading, type WaitingSpectrum, type FileCheckpoint, type IngestBatch } from './types.js';
import { OutboxReader, type StreamFloor } from './reader.js';
import { Checkpoints } from './checkpoints.js';
import { Counters, type OutboxCounts } from './counters.js';
import { HubSensorIds } from './hub-sensor-ids.js';
import { Appender } from './appender.js';
import { Removals } from './removals.js';
import { attachDatabase } from './handle.js';

export type { StreamFloor } from './reader.js';
export { ROWS_PER_INSERT } from './appender.js';
export type { OutboxCounts } from './counters.js';

export const OUTBOX_FILE = 'outbox.db';

export class Outbox {
  private readonly db: Database;
  readonly streams: StreamRegistry;
  readonly deadLetters: DeadLetters;
  readonly state: StateStore;
  readonly ledger: InflightLedger;
  /** The read queries (reader.ts), all the planner worker opens the database for. */
  readonly reader: OutboxReader;
  private readonly positions: Checkpoints;
  private readonly tally: Counters;
  private readonly hubIds: HubSensorIds;
  private readonly appender: Appender;
  private readonly removed: Removals;
  /**
   * Where failed writes that callers survive (a commit held for a retry, an acknowledgement
   * left for later) are recorded as storage faults; set by the agent, null elsewhere.
   */
  storageFaults: StorageFaults | null = null;

  constructor(
    readonly file: string,
    options: OpenOptions = {},
  ) {
    this.db = openDatabase(file, options);
    attachDatabase(this, this.db);
    this.streams = new StreamRegistry(this.db);
    this.deadLetters = new DeadLetters(this.db);
    this.state = new StateStore(this.db, this.survive);
    this.ledger = new InflightLedger(this.db, this.survive);
    this.reader = new OutboxReader(this.db, this.streams);
    this.tally = new Counters(this.db);
    this.positions = new Checkpoints(this.db);
    this.hubIds = new HubSensorIds(this.db, this.survive);
    this.appender = new Appender(this.db, this.streams, this.deadLetters, this.positions, this.tally);
    this.removed = new Removals(this.db, this.streams, this.deadLetters, this.ledger, this.tally);
  }

  static inStateDir(stateDir: string, options: OpenOptions = {}): Outbox {
    return new Outbox(path.join(stateDir, OUTBOX_FILE), options);
  }

  /** Commits every batch (readings, spectra, dead letters, positions) in one transaction. */
  append(batches: readonly IngestBatch[]): void {
    this.appender.append(batches);
  }

  // The read side (reader.ts): the shipper's and the planner worker's read queries.
  readWaiting(lane: number, limit: number, excludeStreams: readonly number[] = [], afterId = 0, floors: readonly StreamFloor[] = []): WaitingReading[] {
    return this.reader.readWaiting(lane, limit, excludeStreams, afterId, floors);
  }

  countAfter(lane: number, afterId: number, limit: number): number {
    return this.reader.countAfter(lane, afterId, limit);
  }

  readWaitingOfSensor(lane: number, sensor: string, afterId: number, limit: number): WaitingReading[] {
    return this.reader.readWaitingOfSensor(lane, sensor, afterId, limit);
  }

  readingsOfBatch(b: InflightBatch): WaitingReading[] {
    return this.reader.readingsOfBatch(b);
  }

  spectraOfBatch(b: InflightBatch): WaitingSpectrum[] {
    return this.reader.spectraOfBatch(b);
  }

  readWaitingSpectra(lane: number, limit: number, excludeSensors: ReadonlySet<string> = new Set()): WaitingSpectrum[] {
    return this.reader.readWaitingSpectra(lane, limit, excludeSensors);
  }

  /** The hub accepted these readings: delete them and forget their batch (removals.ts). */
  ack(ids: readonly number[], batchId?: string, lane: number = LIVE_LANE): void {
    this.removed.ack('readings', ids, batchId, lane);
  }

  ackSpectra(ids: readonly number[], batchId?: string, lane: number = LIVE_LANE): void {
    this.removed.ack('spectra', ids, batchId, lane);
  }

  laneCounts(lane: number): { appended: number; delivered: number; rejected: number; waiting: number } {
    return this.tally.laneCounts(lane);
  }

  /**
   * Removals of waiting readings other than acknowledgements (dead letters, drops, expiry): a
   * round planned ahead of time is only sent if nothing was removed meanwhile.
   */
  get removals(): number {
    return this.removed.unacknowledged;
  }

  /** The hub refused these readings for good: move them to dead letters (stage hub) with its reason. */
  reject(readings: readonly WaitingReading[], lane: number, reason: string, batchId?: string): void {
    this.removed.toDeadLetters(readings, lane, reason, 'hub', batchId);
  }

  rejectSpectra(spectra: readonly WaitingSpectrum[], lane: number, reason: string, batchId?: string): void {
    this.removed.rejectSpectra(spectra, lane, reason, batchId);
  }

  /** Deletes up to `n` of the oldest readings of any lane, unsent, counted as dropped. Returns how many. */
  dropOldest(n: number): number {
    return this.removed.dropOldest(n);
  }

  /**
   * Readings of a lane whose reading time is before `cutoffTs` move to dead letters, stage
   * expired (`hub.retry.max_age`).
   */
  expire(lane: number, cutoffTs: number, reason: string, limit = 50_000): number {
    return this.removed.expire(lane, cutoffTs, reason, limit);
  }

  // File positions (checkpoints.ts) and the hub's sensor ids (hub-sensor-ids.ts).
  checkpoints(source: string): FileCheckpoint[] {
    return this.positions.of(source);
  }

  checkpoint(source: string, fileKey: string): FileCheckpoint | undefined {
    return this.positions.one(source, fileKey);
  }

  forgetCheckpoint(source: string, fileKey: string): void {
    this.positions.forget(source, fileKey);
  }

  hubSensorId(sensor: string): string | null {
    return this.hubIds.of(sensor);
  }

  rememberHubSensorId(sensor: string, hubId: string, ingest: 'timeseries' | 'frequency'): void {
    this.hubIds.remember(sensor, hubId, ingest);
  }

  /**
   * Whether a failed bookkeeping write (ledger, informational state, a sensor's hub id) may be
   * skipped: only a storage error, only where faults are recorded (the daemon), and recorded.
   */
  private readonly survive = (err: unknown): boolean => {
    if (this.storageFaults === null || storageFaultOf(err) === null) return false;
    this.storageFaults.writeFailed(err, 'state');
    return true;
  };

  counters(): Map<string, number> {
    return this.tally.all();
  }

  counts(): OutboxCounts {
    return this.tally.counts();
  }

  /** Timestamp (reading time) of the oldest waiting reading in a lane, or null when the lane is empty. */
  oldestReadingTs(lane: number): number | null {
    return this.reader.oldestReadingTs(lane);
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  /** Checkpoints the WAL into the main file and closes; safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    try {
      // query_only: a reader opened without shared memory (db.ts) writes nothing, not even a checkpoint.
      if (!this.db.readonly && this.db.pragma('query_only', { simple: true }) !== 1) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}
