/**
 * Builds a Spectrum from the fields a record carries (jsonl `spectrum` objects, spectrum-csv
 * rows) and validates it against the hub contract, returning a reason a person can act on.
 */
import { spectrumProblem, type AmplitudeUnit, type MeasurementType, type Spectrum } from './spectrum.js';

export type SpectrumOutcome = { ok: true; spectrum: Spectrum } | { ok: false; reason: string };

export interface SpectrumFields {
  amplitudeUnit: unknown;
  measurementType: unknown;
  spacing: unknown;
  end: unknown;
  number: unknown;
  speed: unknown;
  data: unknown;
}

const FIELDS = ['amplitudeUnit', 'measurementType', 'spacing', 'end', 'number', 'speed', 'data'] as const;

export function buildSpectrum(sensor: string, ts: number, f: SpectrumFields): SpectrumOutcome {
  const missing = FIELDS.filter((k) => f[k] === undefined || f[k] === null);
  if (missing.length > 0) return { ok: false, reason: `spectrum is missing ${missing.map((k) => `"${k}"`).join(', ')}` };
  if (typeof f.amplitudeUnit !== 'string') return { ok: false, reason: 'amplitudeUnit must be a string' };
  if (typeof f.measurementType !== 'string') return { ok: false, reason: 'measurementType must be a string' };
  const spectrum = {
    sensor,
    ts,
    amplitudeUnit: f.amplitudeUnit as AmplitudeUnit,
    measurementType: f.measurementType as MeasurementType,
    spacing: f.spacing as number,
    end: f.end as number,
    number: f.number as number,
    speed: f.speed as number,
    data: f.data as number[],
  };
  const problem = spectrumProblem(spectrum);
  return problem === null ? { ok: true, spectrum } : { ok: false, reason: `spectrum: ${problem}` };
}
