/**
 * The emulator's timestamp check with its cached hour (src/emulator/timestamp.ts) against the
 * full check: the same answer (epoch or reason) for canonical timestamps in time order, across
 * hour, day and year boundaries, and for every one-character mutation of them. Seeded.
 */
import { describe, expect, it } from 'vitest';
import { checkTimestamp, checkTimestampFully } from '../../src/emulator/timestamp.js';
import { prng } from '../helpers/prng.js';

const CHARS = '0123456789:.-TtZz +9x';

describe('emulator timestamp check with a cached hour', () => {
  it('answers exactly as the full check, for canonical timestamps and their one-character mutations', () => {
    const random = prng(20261127);
    const mismatches: string[] = [];
    const compare = (text: string) => {
      const fast = checkTimestamp(text);
      const full = checkTimestampFully(text);
      if (JSON.stringify(fast) !== JSON.stringify(full) && mismatches.length < 10) mismatches.push(`${text}: ${JSON.stringify(fast)} vs ${JSON.stringify(full)}`);
    };
    let t = Date.UTC(2023, 11, 31, 22, 58);
    let checked = 0;
    for (let k = 0; k < 60_000; k++) {
      // Mostly forward in small steps (crossing minutes, hours, the new year), sometimes a jump back.
      t += random() < 0.02 ? -Math.floor(random() * 7_200_000) : Math.floor(random() * 400);
      const text = new Date(t).toISOString();
      compare(text);
      checked++;
      if (k % 6 === 0) {
        const i = Math.floor(random() * text.length);
        compare(text.slice(0, i) + CHARS[Math.floor(random() * CHARS.length)] + text.slice(i + 1));
        checked++;
      }
    }
    for (const text of ['2023-12-31T23:59:59.999Z', '2023-12-31T23:60:00.000Z', '2023-12-31T23:59:60.000Z', '2023-12-31T23:5a:00.000Z', '2023-12-31T23:59:59.999z', '2023-12-31T23:59:59,999Z']) {
      compare(text);
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(69_000);
  });

  it('refuses a minute or second out of range even when the hour is cached', () => {
    expect(checkTimestamp('2024-05-01T10:00:00.000Z')).toEqual({ ok: true, epochMs: Date.UTC(2024, 4, 1, 10) });
    expect(checkTimestamp('2024-05-01T10:61:00.000Z').ok).toBe(false);
    expect(checkTimestamp('2024-05-01T10:00:60.000Z').ok).toBe(false);
    expect(checkTimestamp('2024-05-01T10:59:59.999Z')).toEqual({ ok: true, epochMs: Date.UTC(2024, 4, 1, 10, 59, 59, 999) });
  });
});

describe('InstantSet (the emulator counting overwrites)', () => {
  it('says whether an instant is new, across hours, out of order and before 1970', async () => {
    const { InstantSet } = await import('../../src/emulator/instant-set.js');
    const set = new InstantSet();
    const instants = [Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 1, 0, 59, 59, 999), Date.UTC(2024, 0, 1, 1), Date.UTC(1969, 11, 31, 23, 59, 59, 998), -3_600_001, 0];
    for (const t of instants) expect(set.add(t)).toBe(true);
    for (const t of [...instants].reverse()) expect(set.add(t)).toBe(false);
    expect(set.size).toBe(instants.length);
    expect(set.has(Date.UTC(2024, 0, 1, 1))).toBe(true);
    expect(set.has(Date.UTC(2024, 0, 1, 1, 0, 0, 1))).toBe(false);
    // Same offset into a different hour is a different instant.
    expect(set.add(Date.UTC(2024, 0, 1, 2, 59, 59, 999))).toBe(true);
  });
});
