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

export function checkTimestamp(value: unknown): TimestampCheck {
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
