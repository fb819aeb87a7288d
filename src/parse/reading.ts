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

/** Outcome of parsing one line: readings (possibly none, e.g. a header) or a reason to dead-letter it. */
export type LineOutcome =
  | { ok: true; readings: Reading[]; spectra?: Spectrum[] | undefined }
  | { ok: false; reason: string };

export const NO_READINGS: LineOutcome = Object.freeze({ ok: true, readings: [] }) as LineOutcome;

export function invalid(reason: string): LineOutcome {
  return { ok: false, reason };
}
