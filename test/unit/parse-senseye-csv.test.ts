import { describe, expect, it } from 'vitest';
import { splitCsvLine } from '../../src/parse/csv-fields.js';
import { createSenseyeCsvParser } from '../../src/parse/senseye-csv.js';

const ms = Date.UTC(2026, 10, 27, 10);

describe('splitCsvLine', () => {
  it('handles quotes, doubled quotes, delimiters inside quotes and trailing empties', () => {
    const out = splitCsvLine('a,"b,c","say ""hi""",,');
    expect(out).toEqual({
      ok: true,
      fields: [
        { text: 'a', quoted: false },
        { text: 'b,c', quoted: true },
        { text: 'say "hi"', quoted: true },
        { text: '', quoted: false },
        { text: '', quoted: false },
      ],
    });
    expect(splitCsvLine('"open').ok).toBe(false);
    expect(splitCsvLine('"a"b').ok).toBe(false);
  });
});

describe('senseye-csv', () => {
  it('reads the header, then one reading per non-empty cell with its type', () => {
    const p = createSenseyeCsvParser({ sensor: 'pump-7' }, null);
    expect(p.parseLine('\uFEFFDATETIME,rms,temp,running,mode')).toEqual({ ok: true, readings: [] });
    expect(p.parseLine('2026-11-27T10:00:00Z,2.5,,true,"auto, eco"')).toEqual({
      ok: true,
      readings: [
        { sensor: 'pump-7', measure: 'rms', ts: ms, value: 2.5 },
        { sensor: 'pump-7', measure: 'running', ts: ms, value: true },
        { sensor: 'pump-7', measure: 'mode', ts: ms, value: 'auto, eco' },
      ],
    });
  });

  it('resumes with a saved header (restart mid-file)', () => {
    const first = createSenseyeCsvParser({ sensor: 'p' }, null);
    first.parseLine('DATETIME,a,b');
    const resumed = createSenseyeCsvParser({ sensor: 'p' }, first.saveState());
    expect(resumed.parseLine('2026-11-27T10:00:00Z,1,2')).toMatchObject({ ok: true, readings: [{ measure: 'a' }, { measure: 'b' }] });
  });

  it.each([
    ['2026-11-27T10:00:00Z,1', 'expected 3 columns'],
    ['2026-11-27 10:00,1,2', 'DATETIME'],
    ['2026-11-27T10:00:00Z,1,abc', 'column "b"'],
    ['2026-11-27T10:00:00Z,1,1,5', 'expected 3 columns'],
    ['2026-11-27T10:00:00Z,"1,2', 'unterminated'],
  ])('dead-letters the row %s', (line, reason) => {
    const p = createSenseyeCsvParser({ sensor: 'p' }, null);
    p.parseLine('DATETIME,a,b');
    const out = p.parseLine(line);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toContain(reason);
  });

  it('refuses a header that does not start with DATETIME', () => {
    const p = createSenseyeCsvParser({ sensor: 'p' }, null);
    const out = p.parseLine('time,a');
    expect(out.ok).toBe(false);
  });
});
