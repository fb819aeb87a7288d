/**
 * The canonical record every source produces and the outbox stores: one value of one measure
 * of one sensor at one instant. Parsers turn input lines into these; nothing downstream knows
 * which format a reading came from.
 */
import type { Spectrum } from './spectrum.js';

export type ReadingValue = number | string | boolean;

/** How a value travels to the hub: floatValue, stringValue or booleanValue. */
export type ValueKind = 'float' | 'string' | 'boolean';

export interface Reading {
  /** Local sensor name (the hub's mappingId when sensors are created by the agent). */
  sensor: string;
  measure: string;
  /** Epoch milliseconds, UTC. The hub takes millisecond precision. */
  ts: number;
  value: ReadingValue;
}

export function valueKind(value: ReadingValue): ValueKind {
  if (typeof value === 'number') return 'float';
  if (typeof value === 'boolean') return 'boolean';
  return 'string';
}

/** A record inside an otherwise usable input that was refused (dead-lettered on its own). */
export interface RecordProblem {
  reason: string;
  /** The record's text (or JSON), for the dead letter. */
  raw?: string | undefined;
  /** Line number in the input, when the parser knows it better than the chunk does. */
  line?: number | undefined;
  /** Or: the record is this many lines before the line being parsed (a record a parser held). */
  linesBefore?: number | undefined;
}

/**
 * Outcome of parsing one line (or one document): readings and spectra (possibly none, e.g. a
 * header), plus records refused inside it; or a reason to dead-letter the whole input.
 */
export type LineOutcome =
  | { ok: true; readings: Reading[]; spectra?: Spectrum[] | undefined; rejected?: RecordProblem[] | undefined }
  | { ok: false; reason: string };

export const NO_READINGS: LineOutcome = Object.freeze({ ok: true, readings: [] }) as LineOutcome;

export function invalid(reason: string): LineOutcome {
  return { ok: false, reason };
}
