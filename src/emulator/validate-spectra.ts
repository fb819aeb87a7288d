/**
 * Pure validator for frequency spectra (POST /v1/hub/spectra), field by field per hub-api.md:
 * sensorId xor mappingId, RFC 3339 timestamp with offset, amplitude unit from the documented list,
 * velocity | acceleration, spacing > 0, integer `number` == data.length, `end` == (number - 1) *
 * spacing within END_TOLERANCE (relative), speed finite and >= 0 (Hz), finite amplitudes. Every
 * problem is reported with its path (`spectra[2].number: ...`); the body is valid whole or not.
 */
import { checkTimestamp, quote } from './timestamp.js';
import { kindOf, isObject, present, Problems, sensorRef, type SensorRef, type Validation } from './validate-common.js';

// The contract's units and types, shared with the agent's parsers (one list, one truth).
import { AMPLITUDE_UNITS, MEASUREMENT_TYPES, type AmplitudeUnit, type MeasurementType } from '../parse/spectrum.js';

export { AMPLITUDE_UNITS, MEASUREMENT_TYPES };
export type { AmplitudeUnit, MeasurementType };

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

/** Relative tolerance for `end == (number - 1) * spacing`. */
export const END_TOLERANCE = 1e-9;

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
    p.add(path, `must be a finite number, got ${typeof v === 'number' ? String(v) : present(v) ? kindOf(v) : 'nothing'}`);
    return false;
  }
  return true;
}

function readSpectrum(p: Problems, s: unknown, path: string): SpectrumInput | null {
  const before = p.list.length;
  if (!isObject(s)) {
    p.add(path, `must be an object, got ${kindOf(s)}`);
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
    p.add(`${path}.number`, `must be a positive integer (bin count), got ${typeof s.number === 'number' ? String(s.number) : present(s.number) ? kindOf(s.number) : 'nothing'}`);
  } else numberOk = true;
  let dataOk = false;
  if (!Array.isArray(s.data)) {
    p.add(`${path}.data`, `must be an array of numbers, got ${present(s.data) ? kindOf(s.data) : 'nothing'}`);
  } else {
    const bad = s.data.findIndex((x: unknown) => typeof x !== 'number' || !Number.isFinite(x));
    if (bad >= 0) p.add(`${path}.data[${bad}]`, `must be a finite number, got ${kindOf(s.data[bad])}`);
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
    p.add('body', `must be a JSON array of spectrum objects, got ${kindOf(body)}`);
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
