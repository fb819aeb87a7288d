/**
 * The influx parser against the InfluxDB line protocol reference. The cases are written here by
 * hand from the reference's documented examples (docs.influxdata.com, "Line protocol") and from
 * the hand-made decode cases of InfluxData's cross-implementation corpus
 * (github.com/influxdata/line-protocol-corpus, inputs-decode-custom.cue), whose outcomes are the
 * reference's; the corpus file itself is not vendored. Every case either agrees with the
 * reference, or is marked `policy` with the agent's documented reason (docs/sources.md):
 * Senseye data points have no tags, times are refused outside input.time_window, names follow
 * names.ts.
 */
import { describe, expect, it } from 'vitest';
import { createInfluxParser } from '../../src/parse/influx.js';
import type { LineOutcome } from '../../src/parse/reading.js';

const NOW = Date.UTC(2026, 10, 27, 12);
const T = 1_556_813_561_098; // 1556813561098000000 ns

type Point = [sensor: string, measure: string, value: number | string | boolean, ts?: number];
interface Case {
  about: string;
  text: string | string[];
  /** What the reference decodes, as the agent's readings (measurement = sensor without a sensor tag). */
  points?: Point[];
  /** The reference refuses the line; the agent's reason matches. */
  error?: RegExp;
  /** The agent departs from the reference here, on purpose: why (docs/sources.md says so). */
  policy?: string;
}

const CASES: Case[] = [
  // The reference's own examples.
  { about: 'measurement, tags, a string field, a timestamp', text: 'myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000', points: [['myMeasurement', 'fieldKey', 'fieldValue', T]] },
  { about: 'no tags, no timestamp: the arrival time', text: 'myMeasurement fieldKey="fieldValue"', points: [['myMeasurement', 'fieldKey', 'fieldValue', NOW]] },
  { about: 'float', text: 'myMeasurement fieldKey=1.0', points: [['myMeasurement', 'fieldKey', 1]] },
  { about: 'float without a decimal point', text: 'myMeasurement fieldKey=1', points: [['myMeasurement', 'fieldKey', 1]] },
  { about: 'float in scientific notation', text: 'myMeasurement fieldKey=-1.234456e+78', points: [['myMeasurement', 'fieldKey', -1.234456e78]] },
  { about: 'small float', text: 'cpu,host=serverA,region=us-west value=1.0e-4', points: [['cpu', 'value', 0.0001]] },
  { about: 'integer', text: 'myMeasurement fieldKey=12485903i', points: [['myMeasurement', 'fieldKey', 12485903]] },
  { about: 'unsigned integer', text: 'myMeasurement fieldKey=12485903u', points: [['myMeasurement', 'fieldKey', 12485903]] },
  { about: 'largest int64', text: 'm v=9223372036854775807i', points: [['m', 'v', 9223372036854775807]] },
  { about: 'smallest int64', text: 'm v=-9223372036854775808i', points: [['m', 'v', -9223372036854775808]] },
  { about: 'largest uint64', text: 'm v=18446744073709551615u', points: [['m', 'v', 18446744073709551615]] },
  { about: 'int64 overflow', text: 'm v=9223372036854775808i', error: /outside int64/ },
  { about: 'int64 underflow', text: 'm v=-9223372036854775809i', error: /outside int64/ },
  { about: 'uint64 overflow', text: 'm v=18446744073709551616u', error: /outside uint64/ },
  { about: 'negative unsigned', text: 'm v=-1u', error: /not a float, integer/ },
  { about: 'booleans, every spelling', text: 'm a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE', points: [['m', 'a', true], ['m', 'b', true], ['m', 'c', true], ['m', 'd', true], ['m', 'e', true], ['m', 'f', false], ['m', 'g', false], ['m', 'h', false], ['m', 'i', false], ['m', 'j', false]] },
  { about: 'boolean misspelt', text: 'm v=tRUE', error: /not a float/ },
  { about: 'NaN is no float', text: 'm v=NaN', error: /not a float/ },
  { about: 'infinity is no float', text: 'm v=1e999', error: /not a float/ },
  { about: 'empty string field', text: 'm v=""', points: [['m', 'v', '']] },
  { about: 'escaped quote in a string field', text: 'myMeasurement fieldKey="\\"string\\" within a string"', points: [['myMeasurement', 'fieldKey', '"string" within a string']] },
  { about: 'escaped backslash in a string field', text: 'm v="a\\\\b"', points: [['m', 'v', 'a\\b']] },
  { about: 'backslash-n in a string field stays two characters', text: 'm v="\\n"', points: [['m', 'v', '\\n']] },
  { about: 'backslash-t in a string field stays two characters', text: 'm v="\\t"', points: [['m', 'v', '\\t']] },
  { about: 'escaped space in the measurement', text: 'my\\ Measurement fieldKey="string value"', points: [['my Measurement', 'fieldKey', 'string value']] },
  { about: 'escaped spaces in tag keys and values', text: 'myMeasurement,tag\\ Key1=tag\\ Value1,sensor=tag\\ Value2 fieldKey=100', points: [['tag Value2', 'fieldKey', 100]] },
  { about: 'escaped comma and equals in a field key', text: 'm f\\,x\\=y=1', points: [['m', 'f,x=y', 1]] },
  { about: 'emoji in tags and strings', text: 'myMeasurement,sensor=🍭 fieldKey="Launch 🚀" 1556813561098000000', points: [['🍭', 'fieldKey', 'Launch 🚀', T]] },
  { about: 'several fields', text: 'm,sensor=s a=1,b=2i,c="x" 1556813561098000000', points: [['s', 'a', 1, T], ['s', 'b', 2, T], ['s', 'c', 'x', T]] },
  { about: 'a comment line', text: '# a comment', points: [] },
  { about: 'a blank line', text: '', points: [] },
  { about: 'tab indentation', text: '\tm v=1', points: [['m', 'v', 1]] },
  { about: 'a string field value holding a newline (one record over two lines)', text: ['m,sensor=s note="line one', 'line two",v=1 1556813561098000000'], points: [['s', 'note', 'line one\nline two', T], ['s', 'v', 1, T]] },
  // Refused by the reference (corpus, inputs-decode-custom.cue).
  { about: 'missing tag value', text: 'cpu,something= value=42', error: /empty tag key or value/ },
  { about: 'no field values', text: 'cpu_load_short,host=server01,region=us-west', error: /expected a space and fields/ },
  { about: 'no-break space is not a separator', text: 'm\u00a0v=1', error: /expected a space and fields/ },
  { about: 'tag without "="', text: 'cpu,host=serverA,region value=1i', error: /tag "region" has no "="/ },
  { about: 'field without a value', text: 'm v=', error: /not a float/ },
  { about: 'missing field key', text: 'm =1', error: /missing field key/ },
  { about: 'unterminated string field', text: ['m v="open', 'm w=1 1556813561098000000'], error: /unterminated string field/ },
  { about: 'garbage after the fields', text: 'm v=1 abc', error: /is not a timestamp/ },
  { about: 'non-printable character in the measurement', text: 'x\u0001y v=1', error: /measurement "x\\u0001y" has control character U\+0001/ },
  { about: 'NUL at the start of the measurement', text: '\u0000m v=1', error: /control character U\+0000/ },
  // The agent's own rules (policy), each documented in docs/sources.md.
  { about: 'non-printable character in a tag key', text: 'm,x\u0001y=v v=1', error: /tag key .* control character U\+0001/, policy: 'names may not hold control characters (names.ts), tag keys included' },
  { about: 'non-printable character in a tag value', text: 'm,k=x\u0001y v=1', error: /tag k .* control character U\+0001/, policy: 'names may not hold control characters (names.ts), tag values included' },
  { about: 'non-printable character in a field key', text: 'm x\u0001y=1', error: /field key .* control character U\+0001/, policy: 'a field key is a measure name (names.ts)' },
  { about: 'non-printable character in a string field value is kept', text: 'm v="x\u0001y"', points: [['m', 'v', 'x\u0001y']], policy: 'values are delivered as written; only names are restricted' },
  { about: 'a timestamp before 1971', text: 'm v=1 -1', error: /before 1970/, policy: 'times outside input.time_window (default 1971..2200) are refused' },
  { about: 'a timestamp in year 9999', text: 'm v=1 253402300799000000000', error: /outside 1971\.\.2200/, policy: 'times outside input.time_window (default 1971..2200) are refused' },
  { about: 'a sensor name over input.max_name_length', text: `m,sensor=${'x'.repeat(257)} v=1`, error: /257 characters long/, policy: 'names are at most input.max_name_length (default 256) characters' },
];

function parse(text: string | string[]): LineOutcome[] {
  const parser = createInfluxParser({ now: () => NOW }, null);
  return (Array.isArray(text) ? text : [text]).map((line) => parser.parseLine(line));
}

describe('influx: InfluxDB line protocol reference cases', () => {
  it.each(CASES.map((c) => [c.about, c] as const))('%s', (_about, c) => {
    const outcomes = parse(c.text);
    const readings = outcomes.flatMap((o) => (o.ok ? o.readings : []));
    const problems = outcomes.flatMap((o) => (o.ok ? (o.rejected ?? []).map((r) => r.reason) : [o.reason]));
    if (c.points !== undefined) {
      expect(problems).toEqual([]);
      expect(readings).toEqual(c.points.map(([sensor, measure, value, ts]) => ({ sensor, measure, value, ts: ts ?? NOW })));
    } else {
      expect(problems.some((p) => c.error!.test(p)), `${JSON.stringify(problems)} matches ${String(c.error)}`).toBe(true);
    }
  });

  it('every case is an agreement or a documented policy', () => {
    for (const c of CASES) expect(c.points !== undefined || c.error !== undefined, c.about).toBe(true);
    expect(CASES.filter((c) => c.policy !== undefined).length).toBeGreaterThan(0);
  });
});

describe('influx: a string field value over several lines', () => {
  it('is held as parser state, so a restart between the lines reads the same record', () => {
    const first = createInfluxParser({ now: () => NOW }, null);
    expect(first.parseLine('m,sensor=s note="one')).toEqual({ ok: true, readings: [] });
    const state = first.saveState();
    expect(state).not.toBeNull();
    const second = createInfluxParser({ now: () => NOW }, state);
    expect(second.parseLine('two" 1556813561098000000')).toEqual({ ok: true, readings: [{ sensor: 's', measure: 'note', value: 'one\ntwo', ts: T }] });
    expect(second.saveState()).toBeNull();
  });

  it('does not swallow a valid line after a missing quote: the open line is refused, the valid one delivered', () => {
    const parser = createInfluxParser({ now: () => NOW }, null);
    expect(parser.parseLine('m v="never closed 1556813561098000000')).toEqual({ ok: true, readings: [] });
    const out = parser.parseLine('m w=1 1556813561098000000');
    expect(out).toEqual({
      ok: true,
      readings: [{ sensor: 'm', measure: 'w', value: 1, ts: T }],
      rejected: [{ reason: 'line protocol: field "v": unterminated string field (missing closing ")', raw: 'm v="never closed 1556813561098000000', linesBefore: 1 }],
    });
  });

  it('gives up after HOLD_MAX_LINES lines, each held line dead-lettered on its own', () => {
    const parser = createInfluxParser({ now: () => NOW }, null);
    parser.parseLine('m v="open');
    let out: LineOutcome = { ok: true, readings: [] };
    let n = 1;
    for (; n < 200; n++) {
      out = parser.parseLine(`not a record ${n}`);
      if (out.ok && out.rejected !== undefined) break;
    }
    expect(n).toBe(64);
    expect(out.ok && out.rejected?.length).toBe(65);
    expect(out.ok && out.rejected?.[0]).toMatchObject({ linesBefore: 64, raw: 'm v="open' });
    expect(parser.saveState()).toBeNull();
  });
});
