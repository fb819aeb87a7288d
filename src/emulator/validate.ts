/**
 * Pure validators for what a client sends the hub emulator: sensor create bodies, the GraphQL
 * `storeSensorMeasureData` document and its input (spectra: validate-spectra.ts).
 *
 * Guarantees: a validator never throws on client data and never touches state; it either
 * returns the normalised value or every problem it found (capped at MAX_ERRORS), each message
 * starting with the path of the offending field (`dataPoints[3].timestamp: ...`). Unknown
 * fields are errors, as GraphQL input coercion and a strict REST schema would make them.
 * `null` counts as absent for optional fields, as it does for nullable GraphQL input fields.
 */
import { checkTimestamp, quote } from './timestamp.js';
import {
  kindOf,
  isObject,
  nonEmptyString,
  present,
  Problems,
  sensorRef,
  type Ingest,
  type SensorRef,
  type Validation,
} from './validate-common.js';

export { MAX_ERRORS } from './validate-common.js';
export type { Ingest, SensorRef, Validation } from './validate-common.js';
export {
  AMPLITUDE_UNITS,
  END_TOLERANCE,
  MEASUREMENT_TYPES,
  validateSpectra,
  validateSpectrum,
} from './validate-spectra.js';
export type { AmplitudeUnit, MeasurementType, SpectrumInput } from './validate-spectra.js';

export type ValueType = 'float' | 'string' | 'boolean';

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

// ---------------------------------------------------------------------------------------------
// POST /v1/hub/sensors

const SENSOR_FIELDS = ['name', 'description', 'mappingId', 'ingest'] as const;

export function validateSensorCreate(body: unknown): Validation<SensorCreateInput> {
  const p = new Problems();
  if (!isObject(body)) {
    p.add('body', `must be a JSON object, got ${kindOf(body)}`);
    return p.result(() => undefined as never);
  }
  p.unknownFields('', body, SENSOR_FIELDS);
  nonEmptyString(p, 'name', body.name);
  if (present(body.description) && typeof body.description !== 'string') {
    p.add('description', `must be a string, got ${kindOf(body.description)}`);
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
    p.add(path, `must be an object, got ${kindOf(dp)}`);
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
        p.add(`${path}.floatValue`, `must be a finite number, got ${typeof v === 'number' ? String(v) : kindOf(v)}`);
      } else {
        value = v;
        type = 'float';
      }
    } else if (field === 'stringValue') {
      if (typeof v !== 'string') p.add(`${path}.stringValue`, `must be a string, got ${kindOf(v)}`);
      else {
        value = v;
        type = 'string';
      }
    } else if (typeof v !== 'boolean') {
      p.add(`${path}.booleanValue`, `must be a boolean, got ${kindOf(v)}`);
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
    p.add('input', `must be an object, got ${kindOf(input)}`);
    return p.result(() => undefined as never);
  }
  p.unknownFields('input', input, INPUT_FIELDS);
  const target = sensorRef(p, 'input', input);
  if (present(input.clientMutationId) && typeof input.clientMutationId !== 'string') {
    p.add('input.clientMutationId', `must be a string, got ${kindOf(input.clientMutationId)}`);
  }
  const points: DataPointInput[] = [];
  if (!Array.isArray(input.dataPoints)) {
    p.add('input.dataPoints', `must be an array of DataPoint, got ${present(input.dataPoints) ? kindOf(input.dataPoints) : 'nothing'}`);
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
