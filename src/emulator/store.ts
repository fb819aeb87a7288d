/**
 * What the emulated hub accepted, kept in memory for tests to inspect.
 *
 * Guarantees:
 * - Only accepted data is stored; a rejected request changes counters and the request log only.
 * - `overwrites` counts readings stored again for a (sensor, measure, instant) already held, the
 *   hub's documented overwrite case; instants are compared in UTC milliseconds, so
 *   `…T00:00:00Z` and `…T01:00:00+01:00` are the same reading. This is tracked in both record
 *   modes (a set of numbers per series), so benchmarks can still prove exactly-once delivery.
 * - `duplicateMutationIds` counts accepted mutations whose clientMutationId was accepted before.
 * - In `record: 'count'` mode no data point or spectrum body is retained, and the request log
 *   keeps only the newest `requestLogLimit` entries (default 10,000), so 2 M readings stay cheap.
 * - Snapshots are plain JSON and never contain a token (only its fingerprint).
 */
import { randomUUID } from 'node:crypto';
import { InstantSet } from './instant-set.js';
import { canonicalTimestamp, checkTimestamp } from './timestamp.js';
import type {
  AcceptMeta,
  Counters,
  EmulatorSnapshot,
  RecordMode,
  RequestLogEntry,
  Sensor,
  SnapshotOptions,
  StoredDataPoint,
  StoredSpectrum,
} from './store-types.js';
import type { DataPointInput, Ingest, SpectrumInput } from './validate.js';

function emptyCounters(): Counters {
  return {
    requests: {},
    mutationsAccepted: 0,
    datapointsAccepted: 0,
    spectraAccepted: 0,
    sensorsCreated: 0,
    sensorsAutoProvisioned: 0,
    overwrites: 0,
    duplicateMutationIds: 0,
    faultsInjected: 0,
    rateLimited: 0,
  };
}

/** Key of `latestValues()`: sensor id, measure name and the canonical UTC timestamp. */
export function pointKey(sensorId: string, measureName: string, timestamp: string): string {
  const ts = checkTimestamp(timestamp);
  return `${sensorId}/${measureName}/${ts.ok ? canonicalTimestamp(ts.epochMs) : timestamp}`;
}

export class EmulatorStore {
  readonly record: RecordMode;
  private readonly requestLogLimit: number;
  private seq = 0;
  private sensorsById = new Map<string, Sensor>();
  private sensorsByMapping = new Map<string, Sensor>();
  private points: StoredDataPoint[] = [];
  private spectraList: StoredSpectrum[] = [];
  private log: RequestLogEntry[] = [];
  /** series key -> instants held; in full mode the value is the index of the latest point. */
  /** sensor id → series (measure name, or "#spectrum") → instants seen (with their point index in `full` mode). */
  private seen = new Map<string, Map<string, Map<number, number> | InstantSet>>();
  private mutationIds = new Set<string>();
  counters: Counters = emptyCounters();

  constructor(opts: { record?: RecordMode; requestLogLimit?: number } = {}) {
    this.record = opts.record ?? 'full';
    this.requestLogLimit = opts.requestLogLimit ?? (this.record === 'count' ? 10_000 : Number.POSITIVE_INFINITY);
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  get lastSeq(): number {
    return this.seq;
  }

  // --- sensors -------------------------------------------------------------------------------

  get sensors(): Sensor[] {
    return [...this.sensorsById.values()];
  }

  sensorById(id: string): Sensor | undefined {
    return this.sensorsById.get(id.toLowerCase());
  }

  sensorByMappingId(mappingId: string): Sensor | undefined {
    return this.sensorsByMapping.get(mappingId);
  }

  createSensor(input: {
    name: string;
    description?: string | null;
    mappingId?: string | null;
    ingest: Ingest;
    autoProvisioned?: boolean;
  }): Sensor {
    if (input.mappingId && this.sensorsByMapping.has(input.mappingId)) {
      throw new Error(`createSensor: mappingId ${input.mappingId} already exists`);
    }
    const sensor: Sensor = {
      id: randomUUID(),
      name: input.name,
      description: input.description ?? null,
      mappingId: input.mappingId ?? null,
      ingest: input.ingest,
      createdAt: new Date().toISOString(),
      autoProvisioned: input.autoProvisioned ?? false,
    };
    this.sensorsById.set(sensor.id, sensor);
    if (sensor.mappingId) this.sensorsByMapping.set(sensor.mappingId, sensor);
    if (sensor.autoProvisioned) this.counters.sensorsAutoProvisioned += 1;
    else this.counters.sensorsCreated += 1;
    return sensor;
  }

  // --- data ----------------------------------------------------------------------------------

  /** Stores one accepted mutation's points (the caller has validated all of them). */
  acceptDataPoints(sensor: Sensor, points: readonly DataPointInput[], meta: AcceptMeta): void {
    this.counters.mutationsAccepted += 1;
    if (meta.clientMutationId !== null) {
      if (this.mutationIds.has(meta.clientMutationId)) this.counters.duplicateMutationIds += 1;
      else this.mutationIds.add(meta.clientMutationId);
    }
    const series = this.seriesOf(sensor.id);
    for (const p of points) {
      const index = this.record === 'full' ? this.points.length : -1;
      if (this.markSeen(series, p.measureName, p.epochMs, index)) this.counters.overwrites += 1;
      this.counters.datapointsAccepted += 1;
      if (this.record === 'full') {
        this.points.push({
          sensorId: sensor.id,
          measureName: p.measureName,
          timestamp: p.timestamp,
          value: p.value,
          type: p.type,
          clientMutationId: meta.clientMutationId,
          idempotencyKey: meta.idempotencyKey,
          requestSeq: meta.requestSeq,
        });
      }
    }
  }

  /** Stores one accepted spectra body (the caller has validated and resolved all of them). */
  acceptSpectra(entries: ReadonlyArray<{ sensor: Sensor; spectrum: SpectrumInput }>, meta: AcceptMeta): void {
    for (const { sensor, spectrum: s } of entries) {
      if (this.markSeen(this.seriesOf(sensor.id), '#spectrum', s.epochMs, this.record === 'full' ? this.spectraList.length : -1)) {
        this.counters.overwrites += 1;
      }
      this.counters.spectraAccepted += 1;
      if (this.record === 'full') {
        this.spectraList.push({
          sensorId: sensor.id,
          timestamp: s.timestamp,
          amplitudeUnit: s.amplitudeUnit,
          measurementType: s.measurementType,
          spacing: s.spacing,
          end: s.end,
          number: s.number,
          speed: s.speed,
          data: [...s.data],
          idempotencyKey: meta.idempotencyKey,
          requestSeq: meta.requestSeq,
        });
      }
    }
  }

  /** Records the instant; returns true if the series already held it (an overwrite). */
  private seriesOf(sensorId: string): Map<string, Map<number, number> | InstantSet> {
    let series = this.seen.get(sensorId);
    if (series === undefined) this.seen.set(sensorId, (series = new Map()));
    return series;
  }

  private markSeen(series: Map<string, Map<number, number> | InstantSet>, name: string, epochMs: number, index: number): boolean {
    let held = series.get(name);
    if (!held) {
      held = this.record === 'full' ? new Map<number, number>() : new InstantSet();
      series.set(name, held);
    }
    if (held instanceof InstantSet) return !held.add(epochMs);
    const before = held.size;
    held.set(epochMs, index);
    return held.size === before;
  }

  get dataPoints(): readonly StoredDataPoint[] {
    return this.points;
  }

  get spectra(): readonly StoredSpectrum[] {
    return this.spectraList;
  }

  /**
   * The value the hub now holds for every (sensor, measure, instant), keyed by
   * `pointKey(sensorId, measureName, timestamp)`. Later writes win. Empty in `count` mode.
   */
  latestValues(): Map<string, StoredDataPoint> {
    const out = new Map<string, StoredDataPoint>();
    for (const p of this.points) out.set(pointKey(p.sensorId, p.measureName, p.timestamp), p);
    return out;
  }

  // --- requests ------------------------------------------------------------------------------

  logRequest(entry: RequestLogEntry): void {
    const byPath = (this.counters.requests[entry.path] ??= {});
    byPath[String(entry.status)] = (byPath[String(entry.status)] ?? 0) + 1;
    this.log.push(entry);
    if (this.log.length > this.requestLogLimit) this.log.splice(0, this.log.length - this.requestLogLimit);
  }

  get requests(): readonly RequestLogEntry[] {
    return this.log;
  }

  snapshot(opts: SnapshotOptions = {}): EmulatorSnapshot {
    const since = opts.since ?? 0;
    const summary = opts.summary ?? false;
    const clone = <T>(v: T): T => structuredClone(v);
    return {
      record: this.record,
      summary,
      lastSeq: this.seq,
      sensors: clone(this.sensors),
      counters: clone(this.counters),
      dataPoints: summary ? [] : this.points.filter((p) => p.requestSeq > since).map((p) => ({ ...p })),
      spectra: summary ? [] : clone(this.spectraList.filter((s) => s.requestSeq > since)),
      requests: summary ? [] : this.log.filter((r) => r.seq > since).map((r) => ({ ...r })),
    };
  }

  /** Forgets all sensors, data, counters and the request log. Sequence numbers keep increasing. */
  reset(): void {
    this.sensorsById = new Map();
    this.sensorsByMapping = new Map();
    this.points = [];
    this.spectraList = [];
    this.log = [];
    this.seen = new Map();
    this.mutationIds = new Set();
    this.counters = emptyCounters();
  }
}
