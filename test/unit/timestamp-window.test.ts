// One plausibility window for every way a time is written (RFC 3339, naive in a zone, epoch in
// any unit), and the leap-second rule: second 60 is the last millisecond of its minute.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIME_WINDOW, fastRfc3339, parseEpoch, parseRfc3339, parseRfc3339Regex, parseTimestampText, timeWindow } from '../../src/parse/timestamp.js';
import { ZoneClock } from '../../src/parse/timezone.js';
import { jsonTimestamp, textTimestamp } from '../../src/parse/values.js';

describe('leap seconds', () => {
  it.each([
    ['2016-12-31T23:59:60Z', '2016-12-31T23:59:59.999Z'],
    ['2016-12-31T23:59:60.500Z', '2016-12-31T23:59:59.999Z'],
    ['2016-12-31T23:59:60.999999999Z', '2016-12-31T23:59:59.999Z'],
    ['2016-12-31T15:59:60-08:00', '2016-12-31T23:59:59.999Z'],
    ['2015-06-30T23:59:60Z', '2015-06-30T23:59:59.999Z'],
  ])('%s is read as %s: same minute, same day, never the next day', (text, iso) => {
    const want = { ok: true, ms: Date.parse(iso) };
    expect(parseRfc3339(text)).toEqual(want);
    expect(parseRfc3339Regex(text)).toEqual(want);
    expect(fastRfc3339(text)).toBe(want.ms);
    expect(parseTimestampText(text, undefined)).toEqual(want);
  });

  it('sorts after every other reading of its minute, before the next minute', () => {
    const leap = parseRfc3339('2016-12-31T23:59:60Z');
    const before = parseRfc3339('2016-12-31T23:59:59.998Z');
    const after = parseRfc3339('2017-01-01T00:00:00Z');
    expect(leap.ok && before.ok && after.ok).toBe(true);
    if (leap.ok && before.ok && after.ok) {
      expect(leap.ms).toBeGreaterThan(before.ms);
      expect(leap.ms).toBeLessThan(after.ms);
    }
  });

  it('a local time with second 60 in a zone is read the same way', () => {
    expect(parseTimestampText('2016-12-31 23:59:60', new ZoneClock('UTC'))).toEqual({ ok: true, ms: Date.parse('2016-12-31T23:59:59.999Z') });
  });

  it('second 61 is still impossible', () => {
    expect(parseRfc3339('2016-12-31T23:59:61Z')).toMatchObject({ ok: false, reason: expect.stringContaining('impossible time of day') as unknown });
  });
});

describe('the time window', () => {
  it('is 1971..2200 by default, both ends included, for RFC 3339, local times and epochs alike', () => {
    expect(DEFAULT_TIME_WINDOW.text).toBe('1971..2200');
    expect(parseTimestampText('1971-01-01T00:00:00Z', undefined)).toEqual({ ok: true, ms: Date.UTC(1971, 0, 1) });
    expect(parseTimestampText('2200-01-01T00:00:00Z', undefined)).toEqual({ ok: true, ms: Date.UTC(2200, 0, 1) });
    expect(parseEpoch(Date.UTC(2200, 0, 1), 'ms')).toEqual({ ok: true, ms: Date.UTC(2200, 0, 1) });
    expect(parseEpoch(Date.UTC(2200, 0, 1) + 1, 'ms').ok).toBe(false);
  });

  it.each([
    ['9999-12-31T23:59:59Z'],
    ['0000-01-01T00:00:00Z'],
    ['1970-06-01T00:00:00Z'],
    ['2200-01-01T00:00:00.001Z'],
    ['2200-01-01T00:00:00-00:01'],
  ])('refuses RFC 3339 %s, as epochs there are refused', (text) => {
    expect(parseTimestampText(text, undefined)).toEqual({ ok: false, reason: `timestamp "${text}" is outside 1971..2200 (input.time_window)` });
    expect(jsonTimestamp(text, undefined, 'ms')).toMatchObject({ ok: false });
    expect(textTimestamp(text, undefined, 'ms')).toMatchObject({ ok: false });
    // The same instant as an epoch is refused too (where the epoch can be written at all).
    const ms = Date.parse(text);
    if (ms >= 0) expect(parseEpoch(ms, 'ms').ok).toBe(false);
  });

  it('refuses a local time outside the window in a zone', () => {
    expect(parseTimestampText('9999-01-01 00:00:00', new ZoneClock('Europe/Berlin'))).toMatchObject({ ok: false, reason: expect.stringContaining('outside 1971..2200') as unknown });
  });

  it('keeps the epoch wording (with the unit hint) inside the one window', () => {
    expect(parseEpoch(1_764_237_600, 'ms')).toEqual({
      ok: false,
      reason: "timestamp 1764237600 is outside 1971..2200 as epoch milliseconds (it looks like epoch seconds: check the source's epoch unit setting)",
    });
  });

  it('a configured window applies to every form, and is named in the reason', () => {
    const w = timeWindow(Date.UTC(2020, 0, 1), Date.UTC(2030, 0, 1));
    expect(w.text).toBe('2020..2030');
    expect(parseTimestampText('2019-12-31T23:59:59.999Z', undefined, w)).toEqual({ ok: false, reason: 'timestamp "2019-12-31T23:59:59.999Z" is outside 2020..2030 (input.time_window)' });
    expect(parseTimestampText('2020-01-01T00:00:00Z', undefined, w)).toEqual({ ok: true, ms: Date.UTC(2020, 0, 1) });
    expect(parseEpoch('1577836799', 's', w)).toMatchObject({ ok: false, reason: expect.stringContaining('outside 2020..2030 as epoch seconds') as unknown });
    expect(textTimestamp('1577836800000', undefined, 'ms', w)).toEqual({ ok: true, ms: Date.UTC(2020, 0, 1) });
    expect(jsonTimestamp(1_577_836_800_000, undefined, 'ms', w)).toEqual({ ok: true, ms: Date.UTC(2020, 0, 1) });
    const odd = timeWindow(Date.UTC(2020, 5, 1), Date.UTC(2030, 0, 1, 12));
    expect(odd.text).toBe('2020-06-01T00:00:00.000Z..2030-01-01T12:00:00.000Z');
  });
});
