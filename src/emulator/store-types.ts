/**
 * The shapes the emulator's store holds and returns. All are plain JSON (no Dates, Maps or
 * class instances), so a snapshot can cross a process boundary as is; none holds a token.
 */
import type { AmplitudeUnit, Ingest, MeasurementType, ValueType } from './validate.js';

export type RecordMode = 'full' | 'count';

export interface Sensor {
  id: string;
  name: string;
  description: string | null;
  mappingId: string | null;
  ingest: Ingest;
  /** RFC 3339 UTC. */
  createdAt: string;
  /** True when created by data sent to an unknown mappingId rather than POST /v1/hub/sensors. */
  autoProvisioned: boolean;
}

export interface StoredDataPoint {
  sensorId: string;
  measureName: string;
  /** Exactly as the client sent it. */
  timestamp: string;
  value: number | string | boolean;
  type: ValueType;
  clientMutationId: string | null;
  idempotencyKey: string | null;
  requestSeq: number;
}

export interface StoredSpectrum {
  sensorId: string;
  timestamp: string;
  amplitudeUnit: AmplitudeUnit;
  measurementType: MeasurementType;
  spacing: number;
  end: number;
  number: number;
  speed: number;
  data: number[];
  idempotencyKey: string | null;
  requestSeq: number;
}

export interface RequestLogEntry {
  seq: number;
  method: string;
  path: string;
  /** HTTP status answered; 0 when the socket was reset by a fault without an answer. */
  status: number;
  /** Epoch milliseconds. */
  receivedAt: number;
  finishedAt: number;
  clientMutationId: string | null;
  idempotencyKey: string | null;
  /** Data points (GraphQL) or spectra (spectra endpoint) in the body, when it could be read. */
  pointCount: number | null;
  /** SHA-256 fingerprint of the bearer token; never the token. */
  authFingerprint: string | null;
  contentType: string | null;
  /** GraphQL error code or REST error name of the answer, if it was an error. */
  errorCode: string | null;
  /** The injected fault that shaped this answer, e.g. "status:429", "reset", "delay:200", "rate-limit". */
  fault: string | null;
}

export interface Counters {
  /** requests[path][status] = count. Status "0" = reset without answer. */
  requests: Record<string, Record<string, number>>;
  mutationsAccepted: number;
  datapointsAccepted: number;
  spectraAccepted: number;
  sensorsCreated: number;
  sensorsAutoProvisioned: number;
  overwrites: number;
  duplicateMutationIds: number;
  faultsInjected: number;
  rateLimited: number;
}

export interface SnapshotOptions {
  /** Only requests with seq > since, and data from those requests. */
  since?: number;
  /** Omit data points, spectra and the request log. */
  summary?: boolean;
}

export interface EmulatorSnapshot {
  record: RecordMode;
  summary: boolean;
  lastSeq: number;
  sensors: Sensor[];
  counters: Counters;
  dataPoints: StoredDataPoint[];
  spectra: StoredSpectrum[];
  requests: RequestLogEntry[];
}

export interface AcceptMeta {
  clientMutationId: string | null;
  idempotencyKey: string | null;
  requestSeq: number;
}
