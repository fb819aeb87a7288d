import { describe, expect, it } from 'vitest';
import { createJsonlParser } from '../../src/parse/jsonl.js';

const parser = createJsonlParser({}, null);
const ts = '2026-11-27T10:00:00.000Z';
const ms = Date.UTC(2026, 10, 27, 10);

describe('jsonl', () => {
  it('reads numbers, strings and booleans, and epoch-millisecond timestamps', () => {
    expect(parser.parseLine(JSON.stringify({ sensor: 's', measure: 'm', ts, value: 42.1 }))).toEqual({
      ok: true,
      readings: [{ sensor: 's', measure: 'm', ts: ms, value: 42.1 }],
    });
    expect(parser.parseLine(JSON.stringify({ sensor: 's', measure: 'mode', ts: ms, value: 'auto' }))).toMatchObject({
      ok: true,
      readings: [{ value: 'auto', ts: ms }],
    });
    expect(parser.parseLine(JSON.stringify({ sensor: 's', measure: 'on', ts, value: false }))).toMatchObject({
      ok: true,
      readings: [{ value: false }],
    });
  });

  it('uses the source sensor when the record names none', () => {
    const withDefault = createJsonlParser({ sensor: 'press-01' }, null);
    expect(withDefault.parseLine(JSON.stringify({ measure: 'm', ts, value: 1 }))).toMatchObject({
      ok: true,
      readings: [{ sensor: 'press-01' }],
    });
  });

  it('skips blank lines without a dead letter', () => {
    expect(parser.parseLine('   ')).toEqual({ ok: true, readings: [] });
  });

  it.each([
    ['{"sensor":"s","measure":"m","ts":"' + ts + '","value":NaN}', 'not valid JSON'],
    ['{"sensor":"s","measure":"m","ts":"' + ts + '","value":1e999}', 'finite number'],
    ['[1,2]', 'JSON object'],
    ['{"measure":"m","ts":"' + ts + '","value":1}', 'missing "sensor"'],
    ['{"sensor":"s","ts":"' + ts + '","value":1}', 'missing "measure"'],
    ['{"sensor":"s","measure":"m","value":1}', 'missing "ts"'],
    ['{"sensor":"s","measure":"m","ts":"27.11.2026 10:00","value":1}', 'RFC 3339'],
    ['{"sensor":"s","measure":"m","ts":"' + ts + '"}', 'missing "value"'],
    ['{"sensor":"s","measure":"m","ts":"' + ts + '","value":null}', 'finite number, a string or a boolean'],
    ['{"sensor":"s","measure":"m","ts":"' + ts + '","value":{"a":1}}', 'finite number, a string or a boolean'],
  ])('refuses %s with a reason', (line, reason) => {
    const out = parser.parseLine(line);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toContain(reason);
  });
});
