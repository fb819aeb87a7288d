/**
 * Values and timestamps as the text formats write them, turned into the canonical kinds
 * (finite number, string, boolean) — one place, so every format types a cell the same way.
 */
import type { CsvField } from './csv-fields.js';
import type { ReadingValue } from './reading.js';
import { DEFAULT_TIME_WINDOW, parseEpoch, parseTimestampText, type EpochUnit, type TimeWindow, type TimestampOutcome } from './timestamp.js';
import type { ZoneClock } from './timezone.js';

/** A decimal number with `.` as separator and an optional exponent. */
export const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function isReadingValue(value: unknown): value is ReadingValue {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' || typeof value === 'boolean';
}

export type CellOutcome = { ok: true; value: ReadingValue | undefined } | { ok: false; reason: string };

/**
 * A CSV cell: quoted → string; empty → no value; `true`/`false` → boolean; a number → float.
 * Other unquoted text is a string when `bareStrings`, else refused (Senseye's CSV quotes strings).
 */
export function csvCell(field: CsvField, bareStrings: boolean): CellOutcome {
  if (field.quoted) return { ok: true, value: field.text };
  const text = field.text.trim();
  if (text.length === 0) return { ok: true, value: undefined };
  if (text === 'true' || text === 'false') return { ok: true, value: text === 'true' };
  if (NUMBER.test(text)) {
    const n = Number(text);
    if (!Number.isFinite(n)) return { ok: false, reason: `${text} is not a finite number` };
    return { ok: true, value: n };
  }
  if (bareStrings) return { ok: true, value: text };
  return { ok: false, reason: `"${text.slice(0, 40)}" is not a number, true/false, or a quoted string` };
}

/** A timestamp as JSON carries it: text (RFC 3339, or naive in `zone`) or an epoch number in `unit`. */
export function jsonTimestamp(value: unknown, zone: ZoneClock | undefined, unit: EpochUnit, window: TimeWindow = DEFAULT_TIME_WINDOW): TimestampOutcome | undefined {
  if (typeof value === 'string') return parseTimestampText(value, zone, window);
  if (typeof value === 'number') return parseEpoch(value, unit, window);
  return undefined;
}

const EPOCH_DIGITS = /^\d+(?:\.\d+)?$/;

/** A timestamp cell: digits are an epoch in `unit`, anything else RFC 3339 or naive in `zone`. */
export function textTimestamp(text: string, zone: ZoneClock | undefined, unit: EpochUnit, window: TimeWindow = DEFAULT_TIME_WINDOW): TimestampOutcome {
  const t = text.trim();
  return EPOCH_DIGITS.test(t) ? parseEpoch(t, unit, window) : parseTimestampText(t, zone, window);
}
