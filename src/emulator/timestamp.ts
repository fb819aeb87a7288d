/**
 * RFC 3339 date-time parsing as the hub accepts it: a full date, a time and an explicit offset
 * (`Z`/`z` or `±hh:mm`). Naive timestamps (no offset) and impossible dates (2023-02-29, 24:00)
 * are rejected instead of being guessed at, because the hub stores UTC and a missing offset
 * would silently shift readings by the agent's local zone.
 *
 * Leap seconds (`:60`) are rejected too: JavaScript time cannot represent them and the hub
 * documents nothing about them.
 */

export type TimestampCheck =
  | { ok: true; epochMs: number }
  | { ok: false; reason: string };

const FULL = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const NAIVE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Shows at most 64 characters of what the client sent, so error messages stay bounded. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > 64 ? `${text.slice(0, 64)}…` : text;
  return JSON.stringify(cut);
}

/**
 * The hour of the last canonical timestamp checked (`YYYY-MM-DDTHH:` and its epoch): clients send
 * readings in time order, so most timestamps share it and only their minutes, seconds and
 * milliseconds need reading. Any other form, and every refusal, takes the full path below.
 */
let hourPrefix = '';
let hourEpoch = 0;

export function checkTimestamp(value: unknown): TimestampCheck {
  if (typeof value === 'string' && value.length === 24 && value.startsWith(hourPrefix) && hourPrefix !== '') {
    const within = canonicalWithinHour(value);
    if (within >= 0) return { ok: true, epochMs: hourEpoch + within };
  }
  const checked = checkTimestampFully(value);
  if (checked.ok && typeof value === 'string' && value.length === 24) {
    const within = canonicalWithinHour(value);
    if (within >= 0) {
      hourPrefix = value.slice(0, 14);
      hourEpoch = checked.epochMs - within;
    }
  }
  return checked;
}

/** Milliseconds into the hour of `…THH:MM:SS.mmmZ` (24 characters), or -1 if it is not exactly that form. */
function canonicalWithinHour(v: string): number {
  if (v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 46 || v.charCodeAt(23) !== 90 || v.charCodeAt(13) !== 58) return -1;
  const mi = digits2(v, 14);
  const se = digits2(v, 17);
  const ms = digits2(v, 20) * 10 + digit(v, 22);
  if (mi < 0 || se < 0 || ms < 0 || mi > 59 || se > 59) return -1;
  return mi * 60_000 + se * 1000 + ms;
}

function digit(v: string, i: number): number {
  const d = v.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1_000_000;
}

function digits2(v: string, i: number): number {
  const n = digit(v, i) * 10 + digit(v, i + 1);
  return n >= 0 ? n : -1;
}

/** The full check, without the cached hour (the reference for the fast path; exported for its test). */
export function checkTimestampFully(value: unknown): TimestampCheck {
  if (typeof value !== 'string') {
    return { ok: false, reason: `must be an RFC 3339 date-time string, got ${typeof value}` };
  }
  const m = FULL.exec(value);
  if (!m) {
    if (NAIVE.test(value)) {
      return {
        ok: false,
        reason: `must carry a UTC offset (Z or ±hh:mm); ${quote(value)} has none`,
      };
    }
    return {
      ok: false,
      reason: `must be an RFC 3339 date-time with offset, e.g. 2024-01-31T12:00:00.000Z; got ${quote(value)}`,
    };
  }
  const [, ys, mos, ds, hs, mis, ss, frac, zulu, sign, ohs, oms] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = Number(ss);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, reason: `is not a valid calendar date: ${quote(value)}` };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `is not a valid time of day: ${quote(value)}` };
  }
  let offsetMinutes = 0;
  if (!zulu) {
    const oh = Number(ohs);
    const om = Number(oms);
    if (oh > 23 || om > 59) {
      return { ok: false, reason: `has an invalid UTC offset: ${quote(value)}` };
    }
    offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const millis = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return { ok: true, epochMs: date.getTime() - offsetMinutes * 60_000 };
}

/** The canonical form used to key stored readings: UTC, millisecond precision, `Z`. */
export function canonicalTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
