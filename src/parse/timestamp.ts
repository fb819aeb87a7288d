/**
 * Timestamps in, epoch milliseconds out. The hub wants RFC 3339 with an offset. A timestamp
 * without one is ambiguous: it is refused unless the source names its time zone (`timezone`),
 * and then read as wall-clock time in that zone (timezone.ts says how DST folds and gaps are
 * resolved). Numeric timestamps are epochs in the unit the format or source says.
 *
 * Hand-written rather than Date.parse: Date.parse accepts naive and non-RFC forms silently
 * (treating "2026-11-27 10:00" as local time), which is exactly the ambiguity we must refuse.
 *
 * Invariants, whatever way a time is written (RFC 3339, naive in a zone, epoch in any unit):
 * - it is refused outside one plausibility window (`TimeWindow`, the `input.time_window`
 *   setting, default 1971-01-01T00:00:00Z..2200-01-01T00:00:00Z inclusive);
 * - a leap second (second 60, which RFC 3339 allows and JavaScript time has not) is read as
 *   the last millisecond of its minute, `hh:mm:59.999` in the offset written: it stays in its
 *   minute and day, after every other reading of that minute, and never becomes the next day.
 */
import type { ZoneClock } from './timezone.js';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
/** Date and time without an offset; seconds optional. */
const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export type EpochUnit = 's' | 'ms' | 'us' | 'ns';
export const EPOCH_UNITS = ['s', 'ms', 'us', 'ns'] as const satisfies readonly EpochUnit[];
const UNIT_NAME: Record<EpochUnit, string> = { s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds' };

/** 400 Gregorian years are exactly 146,097 days. */
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;

/** Date.UTC, except that years 0-99 are those years (Date.UTC reads them as 1900-1999). */
function utc(year: number, month0: number, day: number, hour = 0, minute = 0, second = 0, millis = 0): number {
  if (year >= 100) return Date.UTC(year, month0, day, hour, minute, second, millis);
  return Date.UTC(year + 400, month0, day, hour, minute, second, millis) - FOUR_CENTURIES_MS;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export type TimestampOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/** Date and time-of-day fields as written, checked; `wall` is them encoded as if UTC. */
function wallClock(text: string, m: RegExpExecArray): { ok: true; wall: number } | { ok: false; reason: string } {
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? 0);
  const fraction = m[7] ?? '';
  const millis = fraction.length === 0 ? 0 : Number((fraction + '00').slice(0, 3));
  if (month < 1 || month > 12) return { ok: false, reason: `timestamp "${clip(text)}" has month ${month}` };
  const dim = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > dim) return { ok: false, reason: `timestamp "${clip(text)}" has day ${day}` };
  if (hour > 23 || minute > 59 || second > 60) {
    return { ok: false, reason: `timestamp "${clip(text)}" has an impossible time of day` };
  }
  // A leap second: the last millisecond of its minute (module header).
  if (second === 60) return { ok: true, wall: utc(year, month - 1, day, hour, minute, 59, 999) };
  return { ok: true, wall: utc(year, month - 1, day, hour, minute, second, millis) };
}

/** Parses RFC 3339 with a mandatory offset; sub-millisecond digits are truncated. */
export function parseRfc3339(text: string): TimestampOutcome {
  const ms = fastRfc3339(text);
  return Number.isNaN(ms) ? parseRfc3339Regex(text) : { ok: true, ms };
}

/** The reference parser: every layout RFC3339 matches, and every reason for refusing one. */
export function parseRfc3339Regex(text: string): TimestampOutcome {
  const m = RFC3339.exec(text);
  if (m === null) {
    return {
      ok: false,
      reason: `timestamp "${clip(text)}" is not RFC 3339 with an offset (expected e.g. 2026-11-27T10:00:00.000Z)`,
    };
  }
  const wall = wallClock(text, m);
  if (!wall.ok) return wall;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offH = Number(m[10]);
    const offM = Number(m[11]);
    if (offH > 23 || offM > 59) return { ok: false, reason: `timestamp "${clip(text)}" has an impossible offset` };
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offH * 60 + offM);
  }
  return { ok: true, ms: wall.wall - offsetMinutes * 60_000 };
}

// The regex, its 11 capture strings and Number() of each were ~30 % of jsonl parsing. Almost
// every timestamp has RFC3339's exact layout, so read its digits in place, and keep the epoch
// of the last day seen (readings come in time order). The fast path only ever accepts: NaN
// means "not this layout, or something is out of range", and the regex path then decides,
// so it alone words every refusal. The arithmetic is the regex path's (the day via utc(), plus
// the time of day), so values are identical.
let cachedYmd = -1;
let cachedDayMs = 0;

/** Epoch ms of an RFC 3339 timestamp with an offset in RFC3339's layout, else NaN. */
export function fastRfc3339(t: string): number {
  const n = t.length;
  if (n < 20 || n > 35) return NaN;
  const sep = t.charCodeAt(10);
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return NaN; // - - : :
  if (sep !== 84 && sep !== 116 && sep !== 32) return NaN; // T t space
  const year = digits(t, 0, 4);
  const month = digits(t, 5, 2);
  const day = digits(t, 8, 2);
  const hour = digits(t, 11, 2);
  const minute = digits(t, 14, 2);
  const second = digits(t, 17, 2);
  if ((year | month | day | hour | minute | second) < 0) return NaN;
  if (hour > 23 || minute > 59 || second > 60) return NaN;
  let i = 19;
  let millis = 0;
  if (t.charCodeAt(i) === 46) {
    // 1-9 fraction digits; the first three are milliseconds, the rest truncated.
    i = 20;
    while (i < n && isDigit(t.charCodeAt(i))) i++;
    const len = i - 20;
    if (len === 0 || len > 9) return NaN;
    millis = len >= 3 ? digits(t, 20, 3) : len === 2 ? digits(t, 20, 2) * 10 : digits(t, 20, 1) * 100;
  }
  let offsetMs = 0;
  const z = t.charCodeAt(i);
  if (z === 90 || z === 122) {
    // Z z
    if (n !== i + 1) return NaN;
  } else if (z === 43 || z === 45) {
    // +hh:mm -hh:mm
    if (n !== i + 6 || t.charCodeAt(i + 3) !== 58) return NaN;
    const offH = digits(t, i + 1, 2);
    const offM = digits(t, i + 4, 2);
    if (offH < 0 || offM < 0 || offH > 23 || offM > 59) return NaN;
    offsetMs = (offH * 60 + offM) * 60_000;
    if (z === 45) offsetMs = -offsetMs;
  } else return NaN;
  const ymd = (year * 100 + month) * 100 + day;
  if (ymd !== cachedYmd) {
    if (month < 1 || month > 12) return NaN;
    const dim = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
    if (day < 1 || day > dim) return NaN;
    cachedDayMs = utc(year, month - 1, day);
    cachedYmd = ymd;
  }
  // A leap second: the last millisecond of its minute, as wallClock reads it.
  if (second === 60) return cachedDayMs + ((hour * 60 + minute) * 60 + 59) * 1000 + 999 - offsetMs;
  return cachedDayMs + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offsetMs;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The decimal value of `count` ASCII digits at `at`, or -1 if any is not one (or is past the end). */
function digits(t: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const c = t.charCodeAt(i); // NaN past the end: fails isDigit
    if (!isDigit(c)) return -1;
    v = v * 10 + c - 48;
  }
  return v;
}

/**
 * RFC 3339 with an offset, or — when the source has a time zone — a date and time without one
 * (`2026-11-27 10:00:00`, `2026-11-27T10:00:00.250`, `2026-11-27 10:00`) read in that zone.
 */
export function parseTimestampText(text: string, zone: ZoneClock | undefined, window: TimeWindow = DEFAULT_TIME_WINDOW): TimestampOutcome {
  const withOffset = parseRfc3339(text);
  if (withOffset.ok) return inWindow(text, withOffset, window);
  const m = NAIVE.exec(text);
  if (m === null) {
    if (RFC3339.test(text)) return withOffset; // well-formed but impossible: keep that reason
    return {
      ok: false,
      reason: `timestamp "${clip(text)}" is not RFC 3339 (expected e.g. 2026-11-27T10:00:00.000Z${zone ? ', or 2026-11-27 10:00:00 in ' + zone.zone : ''})`,
    };
  }
  if (zone === undefined) {
    return {
      ok: false,
      reason: `timestamp "${clip(text)}" has no UTC offset: write it as RFC 3339 with one (e.g. 2026-11-27T10:00:00Z) or set the source's \`timezone\``,
    };
  }
  const wall = wallClock(text, m);
  if (!wall.ok) return wall;
  return inWindow(text, { ok: true, ms: zone.toEpochMs(wall.wall) }, window);
}

/** Where times are plausible: epoch ms, both ends included; `text` names it in reasons. */
export interface TimeWindow {
  fromMs: number;
  toMs: number;
  text: string;
}

export function timeWindow(fromMs: number, toMs: number): TimeWindow {
  const yearStart = (ms: number) => new Date(ms).toISOString().slice(4) === '-01-01T00:00:00.000Z';
  const text =
    yearStart(fromMs) && yearStart(toMs)
      ? `${new Date(fromMs).getUTCFullYear()}..${new Date(toMs).getUTCFullYear()}`
      : `${new Date(fromMs).toISOString()}..${new Date(toMs).toISOString()}`;
  return { fromMs, toMs, text };
}

/**
 * 1971-01-01..2200-01-01: wide enough for history, narrow enough to catch a unit mix-up (no
 * machine data is from 1970; seconds read as nanoseconds give 1970-01-01T00:00:01.7Z) and
 * garbage years (0000, 9999) that the hub would store as if real.
 */
export const DEFAULT_TIME_WINDOW = timeWindow(31_536_000_000, 7_258_118_400_000);

function inWindow(text: string, parsed: { ok: true; ms: number }, window: TimeWindow): TimestampOutcome {
  if (parsed.ms >= window.fromMs && parsed.ms <= window.toMs) return parsed;
  return { ok: false, reason: `timestamp "${clip(text)}" is outside ${window.text} (input.time_window)` };
}

// parseEpochMillis keeps its own, older bounds (from 1970): it is not used by any format.
const MIN_EPOCH_MS = 0;
const MAX_EPOCH_MS = 7_258_118_400_000;

export function parseEpochMillis(value: number): TimestampOutcome {
  if (!Number.isFinite(value) || !Number.isInteger(value)) {
    return { ok: false, reason: `timestamp ${value} is not a whole number of epoch milliseconds` };
  }
  if (value < MIN_EPOCH_MS || value > MAX_EPOCH_MS) {
    return { ok: false, reason: `timestamp ${value} is outside 1970..2200 as epoch milliseconds${unitHint(value, 'ms')}` };
  }
  return { ok: true, ms: value };
}

const EPOCH_TEXT = /^\d+(?:\.\d+)?$/;
const PER_MS: Record<EpochUnit, bigint> = { s: 1n, ms: 1n, us: 1000n, ns: 1_000_000n };
const DIGITS_BELOW_MS: Record<EpochUnit, number> = { s: 0, ms: 0, us: 3, ns: 6 };

/**
 * An epoch timestamp in `unit` (a number, or its decimal digits as text — exact for nanoseconds
 * beyond 2^53) → milliseconds, finer digits truncated. Fractions are allowed for s and ms.
 */
export function parseEpoch(value: number | string, unit: EpochUnit, window: TimeWindow = DEFAULT_TIME_WINDOW): TimestampOutcome {
  let ms: number;
  if (typeof value === 'string') {
    if (!EPOCH_TEXT.test(value)) return { ok: false, reason: `timestamp "${clip(value)}" is not a number of epoch ${UNIT_NAME[unit]}` };
    const [whole, fraction = ''] = value.split('.') as [string, string?];
    if (fraction.length > 0 && (unit === 'us' || unit === 'ns')) {
      return { ok: false, reason: `timestamp "${clip(value)}" is not a whole number of epoch ${UNIT_NAME[unit]}` };
    }
    if (unit === 's') ms = Number(BigInt(whole) * 1000n) + Number((fraction + '000').slice(0, 3));
    else {
      // Dropping the sub-millisecond digits as text is the same division without a BigInt per
      // value (influx lines carry nanoseconds); Number() is exact up to 15 digits.
      const keep = whole.length - DIGITS_BELOW_MS[unit];
      ms = keep > 15 ? Number(BigInt(whole) / PER_MS[unit]) : keep > 0 ? Number(whole.slice(0, keep)) : 0;
    }
  } else {
    if (!Number.isFinite(value)) return { ok: false, reason: `timestamp ${value} is not a finite number` };
    if (value < 0) return { ok: false, reason: `timestamp ${value} is before 1970` };
    if (unit === 's') ms = Math.floor(Math.round(value * 1_000_000) / 1000);
    else if (unit === 'ms') ms = Math.floor(value);
    else ms = Math.floor(value / Number(PER_MS[unit]));
  }
  if (ms < window.fromMs || ms > window.toMs) {
    return { ok: false, reason: `timestamp ${clip(String(value))} is outside ${window.text} as epoch ${UNIT_NAME[unit]}${unitHint(Number(value), unit)}` };
  }
  return { ok: true, ms };
}

/** A hint when the magnitude suggests another unit: 1.7e9 are seconds, 1.7e12 ms, 1.7e15 µs, 1.7e18 ns. */
function unitHint(value: number, unit: EpochUnit): string {
  const digits = Math.floor(Math.log10(Math.abs(value) || 1)) + 1;
  const guess: EpochUnit | undefined = digits <= 10 ? 's' : digits <= 13 ? 'ms' : digits <= 16 ? 'us' : digits <= 19 ? 'ns' : undefined;
  return guess === undefined || guess === unit ? '' : ` (it looks like epoch ${UNIT_NAME[guess]}: check the source's epoch unit setting)`;
}

// formatTimestamp was ~12 % of the agent's CPU as one Date and toISOString() per point. Points
// are encoded mostly in time order, so keep the text of the last minute seen
// ("2026-11-27T10:00:") and append seconds and milliseconds from small tables. Only whole ms
// in years 0000-9999 are cached; everything else (other years are written ±YYYYYY, fractions
// are truncated, NaN throws) goes through toISOString() exactly as before.
const MINUTE_MS = 60_000;
const YEAR_0_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const YEAR_10000_MS = 253_402_300_800_000; // +010000-01-01T00:00:00.000Z
const SECONDS = Array.from({ length: 60 }, (_, s) => `${String(s).padStart(2, '0')}.`);
const MILLIS = Array.from({ length: 1000 }, (_, m) => `${String(m).padStart(3, '0')}Z`);
let minuteMs = NaN;
let minutePrefix = '';

/** RFC 3339 with millisecond precision and `Z`, as the hub wants it: `Date.prototype.toISOString`'s text. */
export function formatTimestamp(ms: number): string {
  const into = ms - minuteMs;
  if (into >= 0 && into < MINUTE_MS && Number.isInteger(into)) {
    const s = Math.floor(into / 1000);
    return minutePrefix + SECONDS[s]! + MILLIS[into - s * 1000]!;
  }
  const iso = new Date(ms).toISOString();
  if (Number.isInteger(ms) && ms >= YEAR_0_MS && ms < YEAR_10000_MS) {
    minuteMs = ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
    minutePrefix = iso.slice(0, 17);
  }
  return iso;
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
