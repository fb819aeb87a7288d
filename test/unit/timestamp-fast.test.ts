/**
 * The fast paths of timestamp.ts against their references, over generated inputs: parseRfc3339
 * (digits read in place, the day cached) must accept, refuse and word refusals exactly as the
 * regex path does; formatTimestamp (the minute's text cached) must write exactly what
 * Date.prototype.toISOString writes. Seeded, so a failure names an input that reproduces.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fastRfc3339, formatTimestamp, parseEpoch, parseRfc3339, parseRfc3339Regex } from '../../src/parse/timestamp.js';
import { prng } from '../helpers/prng.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const Y1970 = Date.UTC(1970, 0, 1);
const Y2101 = Date.UTC(2101, 0, 1);

// expect() per case would take seconds over 200,000 cases: compare plainly, collect mismatches.
let mismatches: string[] = [];

/** Same acceptance, same value (sign of zero included), same reason. */
function expectSame(text: string): void {
  const fast = parseRfc3339(text);
  const ref = parseRfc3339Regex(text);
  const same = fast.ok ? ref.ok && Object.is(fast.ms, ref.ms) : !ref.ok && fast.reason === ref.reason;
  if (!same && mismatches.length < 10) mismatches.push(`${JSON.stringify(text)}: ${JSON.stringify(fast)} vs ${JSON.stringify(ref)}`);
}

beforeEach(() => {
  mismatches = [];
});
afterEach(() => {
  expect(mismatches).toEqual([]);
});

/** A timestamp in RFC3339's layout from fields, some of them out of range. */
function generate(rand: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  let year: number, month: number, day: number, hour: number, minute: number, second: number;
  const kind = rand();
  if (kind < 0.5) {
    // a random instant 1970-2100
    const d = new Date(Y1970 + Math.floor(rand() * (Y2101 - Y1970)));
    [year, month, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    [hour, minute, second] = [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  } else {
    // month ends, leap days (valid or not), leap seconds, and fields just out of range
    year = rand() < 0.1 ? int(0, 9999) : rand() < 0.3 ? pick([1900, 2000, 2024, 2025, 2100]) : int(1970, 2100);
    month = rand() < 0.1 ? pick([0, 13, 99]) : int(1, 12);
    day = pick([1, 28, 29, 30, 31, 0, 32, int(1, 31)]);
    hour = rand() < 0.1 ? pick([24, 99]) : pick([0, 23, int(0, 23)]);
    minute = rand() < 0.1 ? pick([60, 99]) : pick([0, 59, int(0, 59)]);
    second = rand() < 0.1 ? pick([61, 99]) : pick([0, 59, 60, int(0, 59)]);
  }
  const sep = pick(['T', 'T', 'T', 't', ' ']);
  const digits = int(0, 9);
  let fraction = '';
  for (let i = 0; i < digits; i++) fraction += String(int(0, 9));
  const offset =
    rand() < 0.5
      ? pick(['Z', 'Z', 'z'])
      : `${pick(['+', '-'])}${pad(rand() < 0.1 ? pick([24, 99]) : int(0, 23), 2)}:${pad(rand() < 0.1 ? pick([60, 99]) : int(0, 59), 2)}`;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}${sep}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${digits > 0 ? '.' : ''}${fraction}${offset}`;
}

// Replacements for one character: digits, every separator the layout uses, and near misses
// (a non-ASCII digit \d does not match, a newline $ does not match before).
const MUTANTS = ['0', '5', '9', '-', ':', 'T', 't', ' ', '.', 'Z', 'z', '+', 'x', '/', '\n', '\u0663', ''];

describe('parseRfc3339 fast path vs the regex path', () => {
  it('agrees on 200,000 generated timestamps and single-character mutations of them', () => {
    const rand = prng(20261127);
    let fastTaken = 0;
    let cases = 0;
    while (cases < 200_000) {
      const text = generate(rand);
      expectSame(text);
      cases++;
      if (parseRfc3339Regex(text).ok) {
        // the fast path must really be the one reading well-formed input
        if (Number.isNaN(fastRfc3339(text))) mismatches.push(`fast path not taken for ${text}`);
        fastTaken++;
      }
      // mutate one position (replace or delete), insert one character, or cut the end
      const at = Math.floor(rand() * (text.length + 1));
      const m = MUTANTS[Math.floor(rand() * MUTANTS.length)]!;
      expectSame(text.slice(0, at) + m + text.slice(at + 1));
      expectSame(text.slice(0, at) + m + text.slice(at));
      expectSame(text.slice(0, at));
      cases += 3;
    }
    expect(fastTaken).toBeGreaterThan(20_000);
  });

  it('agrees on every mutation of every position of a few timestamps', () => {
    for (const text of ['2024-02-29T23:59:60.123456789+14:00', '2026-11-27T10:00:00Z', '2100-12-31 00:00:00.5-00:00']) {
      for (let at = 0; at <= text.length; at++) {
        for (const m of MUTANTS) {
          expectSame(text.slice(0, at) + m + text.slice(at + 1));
          expectSame(text.slice(0, at) + m + text.slice(at));
        }
      }
    }
  });

  it('reads what toISOString writes, with every fraction length, and truncates beyond milliseconds', () => {
    const rand = prng(7);
    for (let i = 0; i < 20_000; i++) {
      const ms = Y1970 + Math.floor(rand() * (Y2101 - Y1970));
      const whole = new Date(ms).toISOString().slice(0, 19);
      const frac = `${pad(ms % 1000, 3)}987654`;
      for (let n = 0; n <= 9; n++) {
        const text = `${whole}${n > 0 ? '.' : ''}${frac.slice(0, n)}Z`;
        const expected = Math.floor(ms / 1000) * 1000 + (n === 0 ? 0 : Number(frac.slice(0, n).padEnd(3, '0').slice(0, 3)));
        const got = parseRfc3339(text);
        if (!got.ok || got.ms !== expected) mismatches.push(`${text}: ${JSON.stringify(got)}, expected ${expected}`);
      }
    }
  });

  it('keeps the cached day honest when the day changes back and forth', () => {
    for (const text of ['2024-02-29T00:00:00Z', '2025-02-29T00:00:00Z', '2024-02-29T12:00:00Z', '2024-03-01T00:00:00Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z']) {
      expectSame(text);
    }
  });
});

describe('formatTimestamp vs toISOString', () => {
  const same = (ms: number) => {
    const got = formatTimestamp(ms);
    const want = new Date(ms).toISOString();
    if (got !== want && mismatches.length < 10) mismatches.push(`${ms}: ${got} vs ${want}`);
  };

  it('agrees across minute, hour, day and year boundaries, forwards and backwards', () => {
    const rand = prng(42);
    const edges = [Date.UTC(1999, 11, 31, 23, 59, 59), Date.UTC(2024, 1, 28, 23, 59, 59), Date.UTC(2026, 10, 27, 10, 59, 59), Date.UTC(2100, 1, 28, 23, 59, 59), 0];
    for (const edge of edges) {
      for (const step of [1, 7, 999, 1000, 1001, 59_999, 60_000, 3_600_001]) {
        for (let ms = edge - 2 * step; ms <= edge + 3 * step; ms += step) same(ms);
        for (let ms = edge + 3 * step; ms >= edge - 2 * step; ms -= step) same(ms);
      }
    }
    // a random walk: mostly small steps forward, sometimes back, sometimes far
    let ms = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 100_000; i++) {
      const r = rand();
      ms += r < 0.7 ? Math.floor(rand() * 2000) : r < 0.85 ? -Math.floor(rand() * 120_000) : Math.floor((rand() - 0.5) * 2 * 365 * 86_400_000);
      ms = Math.min(Math.max(ms, Y1970), Y2101);
      same(ms);
    }
  });

  it('agrees outside the cached range: before 1970, five- and six-digit years, fractions, -0, limits', () => {
    const y0 = Date.parse('0000-01-01T00:00:00Z');
    const y10000 = Date.parse('+010000-01-01T00:00:00Z');
    for (const ms of [-1, -60_000, -60_001, -59_999, y0 - 1, y0, y0 + 59_999, y10000 - 1, y10000, y10000 + 1, -0, 0.5, -0.5, 1.999, 59_999.9, -8.64e15, 8.64e15 - 60_000]) {
      same(ms);
      same(ms + 1); // right after, while its minute may be cached
    }
    same(8.64e15);
    formatTimestamp(Date.UTC(2026, 0, 1));
    for (const bad of [NaN, Infinity, -Infinity, 8.64e15 + 1, -8.64e15 - 1]) {
      expect(() => formatTimestamp(bad)).toThrow(RangeError);
      expect(() => new Date(bad).toISOString()).toThrow(RangeError);
    }
  });
});

describe('parseEpoch of digits in us and ns (sub-millisecond digits dropped as text) vs BigInt division', () => {
  it('agrees on generated digit strings of every length, with leading zeros and fractions', () => {
    const rand = prng(99);
    const per = { ms: 1n, us: 1000n, ns: 1_000_000n } as const;
    for (let i = 0; i < 50_000; i++) {
      const unit = (['ms', 'us', 'ns'] as const)[i % 3]!;
      let whole = '';
      const len = 1 + Math.floor(rand() * 24);
      for (let k = 0; k < len; k++) whole += String(Math.floor(rand() * 10));
      if (rand() < 0.5) whole = String(1_600_000_000_000n * per[unit] + BigInt(Math.floor(rand() * 4e12)) * per[unit] + BigInt(Math.floor(rand() * 1e6)) % per[unit]);
      if (rand() < 0.1) whole = '000' + whole;
      const text = unit === 'ms' && rand() < 0.2 ? `${whole}.${Math.floor(rand() * 1e6)}` : whole;
      const ms = Number(BigInt(whole) / per[unit]);
      const plausible = ms >= 31_536_000_000 && ms <= 7_258_118_400_000;
      const got = parseEpoch(text, unit);
      if ((got.ok ? !plausible || got.ms !== ms : plausible) && mismatches.length < 10) mismatches.push(`${text} ${unit}: ${JSON.stringify(got)}, expected ${ms}`);
    }
  });
});
