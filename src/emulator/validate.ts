/**
 * Pure validators for everything a client sends the hub emulator: sensor create bodies, the
 * GraphQL `storeSensorMeasureData` document and its input, and frequency spectra.
 *
 * Guarantees: a validator never throws on client data and never touches state; it either
 * returns the normalised value or every problem it found (capped at MAX_ERRORS), each message
 * starting with the path of the offending field (`dataPoints[3].timestamp: ...`). Unknown
 * fields are errors, as GraphQL input coercion and a strict REST schema would make them.
 * `null` counts as absent for optional fields, as it does for nullable GraphQL input fields.
 */
import { checkTimestamp, quote } from './timestamp.js';

export type Ingest = 'timeseries' | 'frequency';
export type ValueType = 'float' | 'string' | 'boolean';
export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** How a request addresses its sensor: by the hub's uuid or by the client's mapping id. */
export type SensorRef = { kind: 'sensorId'; sensorId: string } | { kind: 'mappingId'; mappingId: string };

export interface SensorCreateInput {
  name: string;
  description: string | null;
  mappingId: string | null;
  ingest: Ingest;
}

export interface DataPointInput {
  measureName: string;
  /** As sent by the client. */
  timestamp: string;
  epochMs: number;
  value: number | string | boolean;
  type: ValueType;
}

export interface MutationInput {
  target: SensorRef;
  clientMutationId: string | null;
  dataPoints: DataPointInput[];
}

export const AMPLITUDE_UNITS = ['in/s', 'mm/s', 'm/s', 'in/s^2', 'mm/s^2', 'm/s^2'] as const;
export type AmplitudeUnit = (typeof AMPLITUDE_UNITS)[number];
export const MEASUREMENT_TYPES = ['velocity', 'acceleration'] as const;
export type MeasurementType = (typeof MEASUREMENT_TYPES)[number];

export interface SpectrumInput {
  target: SensorRef;
  timestamp: string;
  epochMs: number;
  amplitudeUnit: AmplitudeUnit;
  measurementType: MeasurementType;
  spacing: number;
  end: number;
  number: number;
  speed: number;
  data: number[];
}

/** More messages than this help nobody; the rest are summarised in one line. */
export const MAX_ERRORS = 50;
/** Relative tolerance for `end == (number - 1) * spacing`. */
export const END_TOLERANCE = 1e-9;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

class Problems {
  readonly list: string[] = [];
  private dropped = 0;
  add(path: string, message: string): void {
    if (this.list.length < MAX_ERRORS) this.list.push(`${path}: ${message}`);
    else this.dropped += 1;
  }
  unknownFields(path: string, obj: Obj, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.add(path ? `${path}.${key}` : key, 'unknown field');
    }
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  result<T>(value: () => T): Validation<T> {
    if (this.empty) return { ok: true, value: value() };
    const errors = [...this.list];
    if (this.dropped > 0) errors.push(`… and ${this.dropped} more problems`);
    return { ok: false, errors };
  }
}

function nonEmptyString(p: Problems, path: string, v: unknown): v is string {
  if (typeof v !== 'string') {
    p.add(path, `must be a string, got ${describe(v)}`);
    return false;
  }
  if (v.trim().length === 0) {
    p.add(path, 'must not be empty');
    return false;
  }
  return true;
}

function sensorRef(p: Problems, path: string, obj: Obj): SensorRef | null {
  const hasId = present(obj.sensorId);
  const hasMapping = present(obj.mappingId);
  const where = path || 'body';
  if (hasId && hasMapping) {
    p.add(where, 'give exactly one of sensorId or mappingId, not both');
    return null;
  }
  if (!hasId && !hasMapping) {
    p.add(where, 'exactly one of sensorId or mappingId is required');
    return null;
  }
  const prefix = path ? `${path}.` : '';
  if (hasId) {
    if (!nonEmptyString(p, `${prefix}sensorId`, obj.sensorId)) return null;
    if (!UUID.test(obj.sensorId)) {
      p.add(`${prefix}sensorId`, `must be a UUID, got ${quote(obj.sensorId)}`);
      return null;
    }
    return { kind: 'sensorId', sensorId: obj.sensorId.toLowerCase() };
  }
  if (!nonEmptyString(p, `${prefix}mappingId`, obj.mappingId)) return null;
  return { kind: 'mappingId', mappingId: obj.mappingId };
}

// ---------------------------------------------------------------------------------------------
// POST /v1/hub/sensors

const SENSOR_FIELDS = ['name', 'description', 'mappingId', 'ingest'] as const;

export function validateSensorCreate(body: unknown): Validation<SensorCreateInput> {
  const p = new Problems();
  if (!isObject(body)) {
    p.add('body', `must be a JSON object, got ${describe(body)}`);
    return p.result(() => undefined as never);
  }
  p.unknownFields('', body, SENSOR_FIELDS);
  nonEmptyString(p, 'name', body.name);
  if (present(body.description) && typeof body.description !== 'string') {
    p.add('description', `must be a string, got ${describe(body.description)}`);
  }
  if (present(body.mappingId)) nonEmptyString(p, 'mappingId', body.mappingId);
  if (body.ingest !== 'timeseries' && body.ingest !== 'frequency') {
    p.add('ingest', `must be "timeseries" or "frequency", got ${present(body.ingest) ? quote(body.ingest) : 'nothing'}`);
  }
  return p.result(() => ({
    name: body.name as string,
    description: present(body.description) ? (body.description as string) : null,
    mappingId: present(body.mappingId) ? (body.mappingId as string) : null,
    ingest: body.ingest as Ingest,
  }));
}

// ---------------------------------------------------------------------------------------------
// POST /v1/graphql

export interface StoreMutationDocument {
  /** The name of the variable the `input` argument is bound to (`input` in the documented query). */
  inputVariable: string;
}

/**
 * Checks that a GraphQL document is the `storeSensorMeasureData` mutation with its input passed
 * as a variable. This is a recogniser, not a GraphQL parser: the emulator serves one operation.
 */
export function checkStoreMutationQuery(query: unknown): Validation<StoreMutationDocument> {
  const p = new Problems();
  if (typeof query !== 'string' || query.trim().length === 0) {
    p.add('query', 'must be a non-empty GraphQL document string');
    return p.result(() => undefined as never);
  }
  const text = query.replace(/#[^\n\r]*/g, ' ');
  if (!/^\s*mutation\b/.test(text)) {
    p.add('query', 'only the storeSensorMeasureData mutation is served here; the document is not a mutation');
    return p.result(() => undefined as never);
  }
  if (!/\bstoreSensorMeasureData\b/.test(text)) {
    p.add('query', 'the mutation does not select storeSensorMeasureData');
    return p.result(() => undefined as never);
  }
  const m = /\bstoreSensorMeasureData\s*\(\s*input\s*:\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\)/.exec(text);
  if (!m?.[1]) {
    p.add('query', 'storeSensorMeasureData must take its input from a variable: storeSensorMeasureData(input: $input)');
    return p.result(() => undefined as never);
  }
  const inputVariable = m[1];
  return p.result(() => ({ inputVariable }));
}

const INPUT_FIELDS = ['sensorId', 'mappingId', 'clientMutationId', 'dataPoints'] as const;
const POINT_FIELDS = ['measureName', 'timestamp', 'floatValue', 'stringValue', 'booleanValue'] as const;
const VALUE_FIELDS = ['floatValue', 'stringValue', 'booleanValue'] as const;

function readDataPoint(p: Problems, dp: unknown, path: string): DataPointInput | null {
  const before = p.list.length;
  if (!isObject(dp)) {
    p.add(path, `must be an object, got ${describe(dp)}`);
    return null;
  }
  p.unknownFields(path, dp, POINT_FIELDS);
  nonEmptyString(p, `${path}.measureName`, dp.measureName);
  const ts = checkTimestamp(dp.timestamp);
  if (!ts.ok) p.add(`${path}.timestamp`, ts.reason);

  const given = VALUE_FIELDS.filter((f) => present(dp[f]));
  let value: number | string | boolean = 0;
  let type: ValueType = 'float';
  if (given.length === 0) {
    p.add(path, 'exactly one of floatValue, stringValue, booleanValue is required');
  } else if (given.length > 1) {
    p.add(path, `has ${given.join(' and ')}; give exactly one value field`);
  } else {
    const field = given[0];
    const v = dp[field as string];
    if (field === 'floatValue') {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        p.add(`${path}.floatValue`, `must be a finite number, got ${typeof v === 'number' ? String(v) : describe(v)}`);
      } else {
        value = v;
        type = 'float';
      }
    } else if (field === 'stringValue') {
      if (typeof v !== 'string') p.add(`${path}.stringValue`, `must be a string, got ${describe(v)}`);
      else {
        value = v;
        type = 'string';
      }
    } else if (typeof v !== 'boolean') {
      p.add(`${path}.booleanValue`, `must be a boolean, got ${describe(v)}`);
    } else {
      value = v;
      type = 'boolean';
    }
  }
  if (p.list.length !== before || !ts.ok) return null;
  return { measureName: dp.measureName as string, timestamp: dp.timestamp as string, epochMs: ts.epochMs, value, type };
}

/** Validates one DataPoint on its own (the mutation validator reports every point's problems). */
export function validateDataPoint(dp: unknown, path = 'dataPoint'): Validation<DataPointInput> {
  const p = new Problems();
  const value = readDataPoint(p, dp, path);
  return p.result(() => value as DataPointInput);
}

/** Validates `variables.input` of storeSensorMeasureData. All-or-nothing: any problem fails all. */
export function validateMutationInput(input: unknown): Validation<MutationInput> {
  const p = new Problems();
  if (!isObject(input)) {
    p.add('input', `must be an object, got ${describe(input)}`);
    return p.result(() => undefined as never);
  }
  p.unknownFields('input', input, INPUT_FIELDS);
  const target = sensorRef(p, 'input', input);
  if (present(input.clientMutationId) && typeof input.clientMutationId !== 'string') {
    p.add('input.clientMutationId', `must be a string, got ${describe(input.clientMutationId)}`);
  }
  const points: DataPointInput[] = [];
  if (!Array.isArray(input.dataPoints)) {
    p.add('input.dataPoints', `must be an array of DataPoint, got ${present(input.dataPoints) ? describe(input.dataPoints) : 'nothing'}`);
  } else if (input.dataPoints.length === 0) {
    p.add('input.dataPoints', 'must contain at least one data point');
  } else {
    input.dataPoints.forEach((dp: unknown, i: number) => {
      const ok = readDataPoint(p, dp, `dataPoints[${i}]`);
      if (ok) points.push(ok);
    });
  }
  return p.result(() => ({
    target: target as SensorRef,
    clientMutationId: present(input.clientMutationId) ? (input.clientMutationId as string) : null,
    dataPoints: points,
  }));
}

// ---------------------------------------------------------------------------------------------
// POST /v1/hub/spectra

const SPECTRUM_FIELDS = [
  'mappingId',
  'sensorId',
  'timestamp',
  'amplitudeUnit',
  'measurementType',
  'spacing',
  'end',
  'number',
  'speed',
  'data',
] as const;

function finiteNumber(p: Problems, path: string, v: unknown): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    p.add(path, `must be a finite number, got ${typeof v === 'number' ? String(v) : present(v) ? describe(v) : 'nothing'}`);
    return false;
  }
  return true;
}

function readSpectrum(p: Problems, s: unknown, path: string): SpectrumInput | null {
  const before = p.list.length;
  if (!isObject(s)) {
    p.add(path, `must be an object, got ${describe(s)}`);
    return null;
  }
  p.unknownFields(path, s, SPECTRUM_FIELDS);
  const target = sensorRef(p, path, s);
  const ts = checkTimestamp(s.timestamp);
  if (!ts.ok) p.add(`${path}.timestamp`, ts.reason);
  if (!AMPLITUDE_UNITS.includes(s.amplitudeUnit as AmplitudeUnit)) {
    p.add(`${path}.amplitudeUnit`, `must be one of ${AMPLITUDE_UNITS.join(', ')}; got ${present(s.amplitudeUnit) ? quote(s.amplitudeUnit) : 'nothing'}`);
  }
  if (!MEASUREMENT_TYPES.includes(s.measurementType as MeasurementType)) {
    p.add(`${path}.measurementType`, `must be "velocity" or "acceleration"; got ${present(s.measurementType) ? quote(s.measurementType) : 'nothing'}`);
  }
  const spacingOk = finiteNumber(p, `${path}.spacing`, s.spacing);
  if (spacingOk && (s.spacing as number) <= 0) p.add(`${path}.spacing`, `must be > 0, got ${String(s.spacing)}`);
  const endOk = finiteNumber(p, `${path}.end`, s.end);
  if (finiteNumber(p, `${path}.speed`, s.speed) && (s.speed as number) < 0) {
    p.add(`${path}.speed`, `must be >= 0 (Hz), got ${String(s.speed)}`);
  }
  let numberOk = false;
  if (typeof s.number !== 'number' || !Number.isInteger(s.number) || s.number < 1) {
    p.add(`${path}.number`, `must be a positive integer (bin count), got ${typeof s.number === 'number' ? String(s.number) : present(s.number) ? describe(s.number) : 'nothing'}`);
  } else numberOk = true;
  let dataOk = false;
  if (!Array.isArray(s.data)) {
    p.add(`${path}.data`, `must be an array of numbers, got ${present(s.data) ? describe(s.data) : 'nothing'}`);
  } else {
    const bad = s.data.findIndex((x: unknown) => typeof x !== 'number' || !Number.isFinite(x));
    if (bad >= 0) p.add(`${path}.data[${bad}]`, `must be a finite number, got ${describe(s.data[bad])}`);
    else dataOk = true;
    if (numberOk && s.data.length !== s.number) {
      p.add(`${path}.number`, `must equal data.length (${s.data.length}), got ${String(s.number)}`);
    }
  }
  if (numberOk && spacingOk && endOk && (s.spacing as number) > 0) {
    const expected = ((s.number as number) - 1) * (s.spacing as number);
    const end = s.end as number;
    if (Math.abs(end - expected) > END_TOLERANCE * Math.max(Math.abs(expected), Math.abs(end))) {
      p.add(`${path}.end`, `must equal (number - 1) * spacing = ${expected}, got ${end}`);
    }
  }
  if (p.list.length !== before || !ts.ok || !dataOk || !target) return null;
  return {
    target,
    timestamp: s.timestamp as string,
    epochMs: ts.epochMs,
    amplitudeUnit: s.amplitudeUnit as AmplitudeUnit,
    measurementType: s.measurementType as MeasurementType,
    spacing: s.spacing as number,
    end: s.end as number,
    number: s.number as number,
    speed: s.speed as number,
    data: s.data as number[],
  };
}

/** Validates one spectrum object on its own. */
export function validateSpectrum(s: unknown, path = 'spectrum'): Validation<SpectrumInput> {
  const p = new Problems();
  const value = readSpectrum(p, s, path);
  return p.result(() => value as SpectrumInput);
}

/** Validates a spectra body: a non-empty JSON array of spectrum objects, all valid or none taken. */
export function validateSpectra(body: unknown): Validation<SpectrumInput[]> {
  const p = new Problems();
  if (!Array.isArray(body)) {
    p.add('body', `must be a JSON array of spectrum objects, got ${describe(body)}`);
    return p.result(() => undefined as never);
  }
  if (body.length === 0) {
    p.add('body', 'must contain at least one spectrum');
    return p.result(() => undefined as never);
  }
  const out: SpectrumInput[] = [];
  body.forEach((s: unknown, i: number) => {
    const ok = readSpectrum(p, s, `spectra[${i}]`);
    if (ok) out.push(ok);
  });
  return p.result(() => out);
}
