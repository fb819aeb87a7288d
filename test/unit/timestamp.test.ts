import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseEpochMillis, parseRfc3339 } from '../../src/parse/timestamp.js';

describe('parseRfc3339', () => {
  it.each([
    ['2026-11-27T10:00:00Z', Date.UTC(2026, 10, 27, 10)],
    ['2026-11-27T10:00:00.123Z', Date.UTC(2026, 10, 27, 10, 0, 0, 123)],
    ['2026-11-27T10:00:00.1239999Z', Date.UTC(2026, 10, 27, 10, 0, 0, 123)],
    ['2026-11-27T11:30:00+01:30', Date.UTC(2026, 10, 27, 10)],
    ['2026-11-27T05:00:00-05:00', Date.UTC(2026, 10, 27, 10)],
    ['2024-02-29t00:00:00z', Date.UTC(2024, 1, 29)],
    // Years 0-99 are those years (Date.UTC alone would make them 1900-1999).
    ['0050-06-01T12:00:00.000Z', Date.parse('0050-06-01T12:00:00.000Z')],
    ['0004-02-29T00:00:00Z', Date.parse('0004-02-29T00:00:00.000Z')],
    ['0099-12-31T23:00:00-01:00', Date.parse('0100-01-01T00:00:00.000Z')],
  ])('reads %s', (text, ms) => {
    expect(parseRfc3339(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ['2026-11-27T10:00:00', 'not RFC 3339 with an offset'],
    ['2026-11-27 10:00', 'not RFC 3339'],
    ['27/11/2026 10:00:00Z', 'not RFC 3339'],
    ['2026-13-01T00:00:00Z', 'month 13'],
    ['2025-02-29T00:00:00Z', 'day 29'],
    ['2026-11-27T24:00:00Z', 'impossible time'],
    ['2026-11-27T10:00:00+25:00', 'impossible offset'],
  ])('refuses %s', (text, reason) => {
    const out = parseRfc3339(text);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toContain(reason);
  });
});

describe('parseEpochMillis', () => {
  it('takes whole milliseconds in range and refuses seconds-looking or fractional values', () => {
    expect(parseEpochMillis(1_764_237_600_000)).toEqual({ ok: true, ms: 1_764_237_600_000 });
    expect(parseEpochMillis(1.5).ok).toBe(false);
    expect(parseEpochMillis(-1).ok).toBe(false);
    expect(parseEpochMillis(1_764_237_600_000_000_000).ok).toBe(false);
  });
});

it('formats with milliseconds and Z', () => {
  expect(formatTimestamp(Date.UTC(2026, 10, 27, 10, 0, 0, 5))).toBe('2026-11-27T10:00:00.005Z');
});
