// The `input:` settings: their defaults, their validation, a source's overrides merged over the
// top level by the loader, and the parsers built from a loaded source obeying them.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { FORMATS } from '../../src/parse/registry.js';
import { parserOptionsOf } from '../../src/sources/parser-options.js';

const base = (extra = '', sourceExtra = '') => `
hub:
  url: http://127.0.0.1:1
state_dir: /tmp/x
sources:
  - name: a
    type: file
    path: /data/*.jsonl
    format: jsonl
${sourceExtra}
  - name: b
    type: file
    path: /data/*.influx
    format: influx
${extra}
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'agent.yaml', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('input settings', () => {
  it('default to 256 characters and 1971-01-01..2200-01-01, given to every source', () => {
    const c = parseConfigText(base(), 'agent.yaml', {});
    const want = { max_name_length: 256, time_window: { from: Date.UTC(1971, 0, 1), to: Date.UTC(2200, 0, 1) } };
    expect(c.input).toEqual(want);
    for (const s of c.sources) expect(s.input).toEqual(want);
    expect(parserOptionsOf(c.sources[0]!)).toMatchObject({ maxNameLength: 256, timeWindow: { fromMs: Date.UTC(1971, 0, 1), toMs: Date.UTC(2200, 0, 1), text: '1971..2200' } });
  });

  it('a source overrides the keys it gives; the others come from the top level', () => {
    const c = parseConfigText(
      base('input:\n  max_name_length: 32\n  time_window: {from: 2000-01-01, to: "2100-06-01T00:00:00+02:00"}', '    input: {time_window: {from: 2020-01-01}}'),
      'agent.yaml',
      {},
    );
    expect(c.sources[0]!.input).toEqual({ max_name_length: 32, time_window: { from: Date.UTC(2020, 0, 1), to: Date.UTC(2100, 4, 31, 22) } });
    expect(c.sources[1]!.input).toEqual({ max_name_length: 32, time_window: { from: Date.UTC(2000, 0, 1), to: Date.UTC(2100, 4, 31, 22) } });
  });

  it('the parsers of a loaded source obey them', () => {
    const c = parseConfigText(base('input: {max_name_length: 8, time_window: {from: 2020-01-01, to: 2030-01-01}}'), 'agent.yaml', {});
    const jsonl = FORMATS.jsonl(parserOptionsOf(c.sources[0]!), null);
    expect(jsonl.parseLine('{"sensor":"12345678","measure":"m","ts":"2026-01-01T00:00:00Z","value":1}').ok).toBe(true);
    expect(jsonl.parseLine('{"sensor":"123456789","measure":"m","ts":"2026-01-01T00:00:00Z","value":1}')).toMatchObject({ ok: false, reason: expect.stringContaining('9 characters long, over the limit of 8') as unknown });
    expect(jsonl.parseLine('{"sensor":"s","measure":"m","ts":"2019-12-31T00:00:00Z","value":1}')).toMatchObject({ ok: false, reason: expect.stringContaining('outside 2020..2030') as unknown });
    const influx = FORMATS.influx(parserOptionsOf(c.sources[1]!), null);
    expect(influx.parseLine('m,sensor=s v=1 1577836799000000000')).toMatchObject({ ok: false, reason: expect.stringContaining('outside 2020..2030 as epoch nanoseconds') as unknown });
  });

  it('refuses what is not a date, an empty window and a length below 1, each with its path', () => {
    expect(problems(base('input: {time_window: {from: yesterday}}'))).toEqual(['input.time_window.from: expected a date like 1971-01-01 or an RFC 3339 time with an offset, found "yesterday"']);
    expect(problems(base('input: {time_window: {from: 2200-01-01, to: 1971-01-01}}'))).toEqual(['input.time_window: time_window.from must be before time_window.to']);
    expect(problems(base('input: {max_name_length: 0}'))[0]).toMatch(/^input\.max_name_length: /);
    expect(problems(base('input: {max_length: 10}'))[0]).toMatch(/^input: unknown key "max_length"/);
  });
});
