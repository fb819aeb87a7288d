import { describe, expect, it } from 'vitest';
import { parseEpoch, parseTimestampText } from '../../src/parse/timestamp.js';
import { ZoneClock, isValidTimeZone } from '../../src/parse/timezone.js';

const wall = (y: number, mo: number, d: number, h: number, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s);
const iso = (ms: number) => new Date(ms).toISOString();

describe('ZoneClock: wall-clock time in an IANA zone to UTC', () => {
  it.each([
    // zone, wall time, UTC
    ['UTC', wall(2026, 11, 27, 10), '2026-11-27T10:00:00.000Z'],
    ['Europe/Berlin', wall(2026, 1, 15, 8), '2026-01-15T07:00:00.000Z'],
    ['Europe/Berlin', wall(2026, 7, 15, 8), '2026-07-15T06:00:00.000Z'],
    ['America/New_York', wall(2026, 11, 27, 6), '2026-11-27T11:00:00.000Z'],
    ['Asia/Kolkata', wall(2026, 11, 27, 10, 30), '2026-11-27T05:00:00.000Z'],
    ['Australia/Sydney', wall(2026, 1, 15, 10), '2026-01-14T23:00:00.000Z'], // southern summer (+11)
    ['Australia/Sydney', wall(2026, 7, 15, 10), '2026-07-15T00:00:00.000Z'], // southern winter (+10)
    ['Asia/Kathmandu', wall(2026, 11, 27, 10), '2026-11-27T04:15:00.000Z'], // +05:45
  ])('%s %s', (zone, w, utc) => {
    expect(iso(new ZoneClock(zone).toEpochMs(w))).toBe(utc);
  });

  it('resolves the repeated hour when DST ends to the earlier instant (the offset before the change)', () => {
    const berlin = new ZoneClock('Europe/Berlin');
    expect(iso(berlin.toEpochMs(wall(2026, 10, 25, 2, 30)))).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST
    expect(iso(berlin.toEpochMs(wall(2026, 10, 25, 1, 59)))).toBe('2026-10-24T23:59:00.000Z');
    expect(iso(berlin.toEpochMs(wall(2026, 10, 25, 3, 0)))).toBe('2026-10-25T02:00:00.000Z');
    const ny = new ZoneClock('America/New_York');
    expect(iso(ny.toEpochMs(wall(2026, 11, 1, 1, 30)))).toBe('2026-11-01T05:30:00.000Z'); // 01:30 EDT
  });

  it('moves a time in the skipped hour when DST starts forward by the gap', () => {
    const berlin = new ZoneClock('Europe/Berlin');
    expect(iso(berlin.toEpochMs(wall(2026, 3, 29, 2, 30)))).toBe('2026-03-29T01:30:00.000Z'); // = 03:30 CEST
    expect(iso(berlin.toEpochMs(wall(2026, 3, 29, 3, 0)))).toBe('2026-03-29T01:00:00.000Z');
    const lordHowe = new ZoneClock('Australia/Lord_Howe'); // a 30-minute DST shift
    expect(iso(lordHowe.toEpochMs(wall(2026, 10, 4, 2, 15)))).toBe('2026-10-03T15:45:00.000Z'); // 02:15 → 02:45 (+11)
  });

  it('gives the same answers with its per-minute cache warm as a fresh clock, across both DST changes', () => {
    const cached = new ZoneClock('Europe/Berlin');
    for (const start of [wall(2026, 3, 29, 0), wall(2026, 10, 25, 0)]) {
      for (let s = 0; s < 4 * 3600; s += 37) {
        const w = start + s * 1000;
        expect(cached.toEpochMs(w)).toBe(new ZoneClock('Europe/Berlin').toEpochMs(w));
      }
    }
  });

  it('knows which zone names exist', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});

describe('timestamps without an offset', () => {
  it('are refused unless the source has a time zone, with a reason saying so', () => {
    const out = parseTimestampText('2026-11-27 10:00:00', undefined);
    expect(out).toEqual({ ok: false, reason: expect.stringContaining("set the source's `timezone`") });
    expect(parseTimestampText('2026-11-27 10:00', new ZoneClock('UTC'))).toEqual({ ok: true, ms: wall(2026, 11, 27, 10) });
    expect(parseTimestampText('2026-11-27T10:00:00.250', new ZoneClock('UTC'))).toEqual({ ok: true, ms: wall(2026, 11, 27, 10) + 250 });
  });
});

describe('parseEpoch', () => {
  it.each([
    ['1764237600', 's', Date.UTC(2025, 10, 27, 10)],
    ['1764237600.123', 's', Date.UTC(2025, 10, 27, 10) + 123],
    ['1764237600123', 'ms', Date.UTC(2025, 10, 27, 10) + 123],
    ['1764237600123456', 'us', Date.UTC(2025, 10, 27, 10) + 123],
    ['1764237600123456789', 'ns', Date.UTC(2025, 10, 27, 10) + 123],
  ] as const)('%s in %s', (text, unit, ms) => {
    expect(parseEpoch(text, unit)).toEqual({ ok: true, ms });
  });

  it('refuses a value in the wrong unit with a hint at the right one', () => {
    const out = parseEpoch('1764237600', 'ns');
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(/looks like epoch seconds/);
    expect(parseEpoch(1.5e9, 's').ok).toBe(true);
    expect(parseEpoch('17642376001.5', 'ns').ok).toBe(false);
  });
});
