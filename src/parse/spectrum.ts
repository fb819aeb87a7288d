/**
 * A frequency spectrum as the hub stores it (hub-api.md): amplitudes at `number` bins spaced
 * `spacing` Hz apart, the first at 0 Hz, so `end == (number - 1) * spacing`. Spectra go to
 * sensors created with `ingest: frequency`; a sensor never receives both kinds.
 */
export const AMPLITUDE_UNITS = ['in/s', 'mm/s', 'm/s', 'in/s^2', 'mm/s^2', 'm/s^2'] as const;
export const MEASUREMENT_TYPES = ['velocity', 'acceleration'] as const;

export type AmplitudeUnit = (typeof AMPLITUDE_UNITS)[number];
export type MeasurementType = (typeof MEASUREMENT_TYPES)[number];

export interface Spectrum {
  sensor: string;
  /** Epoch milliseconds, UTC. */
  ts: number;
  amplitudeUnit: AmplitudeUnit;
  measurementType: MeasurementType;
  /** Hz between bins. */
  spacing: number;
  /** Hz of the last bin. */
  end: number;
  /** Bin count; equals data.length. */
  number: number;
  /** Machine running speed in Hz (not RPM). */
  speed: number;
  data: number[];
}

/** Checks a spectrum's fields against the contract; returns a reason a person can act on, or null. */
export function spectrumProblem(s: Omit<Spectrum, 'sensor' | 'ts'>): string | null {
  if (!(AMPLITUDE_UNITS as readonly string[]).includes(s.amplitudeUnit)) {
    return `amplitudeUnit "${String(s.amplitudeUnit)}" is not one of ${AMPLITUDE_UNITS.join(', ')}`;
  }
  if (!(MEASUREMENT_TYPES as readonly string[]).includes(s.measurementType)) {
    return `measurementType "${String(s.measurementType)}" is not velocity or acceleration`;
  }
  if (typeof s.spacing !== 'number' || !Number.isFinite(s.spacing) || s.spacing <= 0) return 'spacing must be a positive number (Hz)';
  if (typeof s.number !== 'number' || !Number.isInteger(s.number) || s.number < 1) return 'number must be a positive whole number of bins';
  if (!Array.isArray(s.data)) return 'data must be an array of numbers';
  if (s.data.length !== s.number) return `number is ${s.number} but data has ${s.data.length} values`;
  for (let i = 0; i < s.data.length; i++) {
    const v = s.data[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return `data[${i}] is not a finite number`;
  }
  if (typeof s.end !== 'number' || !Number.isFinite(s.end)) return 'end must be a number (Hz)';
  const expectedEnd = (s.number - 1) * s.spacing;
  if (Math.abs(s.end - expectedEnd) > 1e-9 * Math.max(1, Math.abs(expectedEnd))) {
    return `end is ${s.end} but (number - 1) * spacing is ${expectedEnd}`;
  }
  if (typeof s.speed !== 'number' || !Number.isFinite(s.speed) || s.speed < 0) return 'speed must be a non-negative number (Hz)';
  return null;
}
