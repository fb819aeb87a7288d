/**
 * Timestamps in, epoch milliseconds out. The hub wants RFC 3339 with an offset; a timestamp
 * without one is ambiguous, so it is refused here rather than guessed (a source-level timezone
 * setting is the place to make naive timestamps meaningful).
 *
 * Hand-written rather than Date.parse: Date.parse accepts naive and non-RFC forms silently
 * (treating "2026-11-27 10:00" as local time), which is exactly the ambiguity we must refuse.
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export type TimestampOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/** Parses RFC 3339 with a mandatory offset; sub-millisecond digits are truncated. */
export function parseRfc3339(text: string): TimestampOutcome {
  const m = RFC3339.exec(text);
  if (m === null) {
    return {
      ok: false,
      reason: `timestamp "${clip(text)}" is not RFC 3339 with an offset (expected e.g. 2026-11-27T10:00:00.000Z)`,
    };
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const fraction = m[7] ?? '';
  const millis = fraction.length === 0 ? 0 : Number((fraction + '00').slice(0, 3));
  if (month < 1 || month > 12) return { ok: false, reason: `timestamp "${clip(text)}" has month ${month}` };
  const dim = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > dim) return { ok: false, reason: `timestamp "${clip(text)}" has day ${day}` };
  // RFC 3339 allows second 60 (leap second); JavaScript time has none, so it folds into the next second.
  if (hour > 23 || minute > 59 || second > 60) {
    return { ok: false, reason: `timestamp "${clip(text)}" has an impossible time of day` };
  }
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offH = Number(m[10]);
    const offM = Number(m[11]);
    if (offH > 23 || offM > 59) return { ok: false, reason: `timestamp "${clip(text)}" has an impossible offset` };
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offH * 60 + offM);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  return { ok: true, ms };
}

// Epoch milliseconds between 1970 and 2200: wide enough for history, narrow enough to catch
// seconds or nanoseconds passed where milliseconds were expected.
const MIN_EPOCH_MS = 0;
const MAX_EPOCH_MS = 7_258_118_400_000;

export function parseEpochMillis(value: number): TimestampOutcome {
  if (!Number.isFinite(value) || !Number.isInteger(value)) {
    return { ok: false, reason: `timestamp ${value} is not a whole number of epoch milliseconds` };
  }
  if (value < MIN_EPOCH_MS || value > MAX_EPOCH_MS) {
    return { ok: false, reason: `timestamp ${value} is outside 1970..2200 as epoch milliseconds` };
  }
  return { ok: true, ms: value };
}

/** RFC 3339 with millisecond precision and `Z`, as the hub wants it. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
