// Golden fixtures per format: test/fixtures/<format>/<case>/input (+ options.json with the
// source's format settings) → expected.json. Input goes through the real parser and the
// pipeline's parse step, exactly as a file source would hand it over (lines, or the whole
// document for document formats). Lines are cut from the input's bytes by the sources' own line
// splitter, so a line that is not valid UTF-8 is refused as a source refuses it. Set
// UPDATE_GOLDEN=1 to (re)write expected.json.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/sources-schema.js';
import { FORMAT_FRAMING, FORMATS, type FormatName } from '../../src/parse/registry.js';
import { parseChunk } from '../../src/pipeline/parse-chunk.js';
import { chunkParts } from '../../src/sources/chunk-parts.js';
import { LineSplitter, type SplitItem } from '../../src/sources/line-splitter.js';
import { parserOptionsOf, sensorIdsOf } from '../../src/sources/parser-options.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
/** Arrival time for influx lines without a timestamp. */
const NOW = Date.UTC(2026, 10, 27, 12);

interface Golden {
  readings: Array<{ sensor: string; measure: string; ts: string; value: unknown }>;
  spectra: Array<Record<string, unknown>>;
  deadLetters: Array<{ line: number | null; reason: string; raw: string }>;
}

function run(format: FormatName, dir: string): Golden {
  const bytes = readFileSync(path.join(dir, 'input'));
  const input = bytes.toString('utf8');
  const optionsFile = path.join(dir, 'options.json');
  const settings = existsSync(optionsFile) ? (JSON.parse(readFileSync(optionsFile, 'utf8')) as Record<string, unknown>) : {};
  const { sensors, ...rest } = settings as { sensors?: Record<string, { sensor_id?: string }> };
  const options = { ...parserOptionsOf({ ...rest, format } as unknown as SourceConfig, sensorIdsOf(sensors ?? {})), now: () => NOW };
  const parser = FORMATS[format](options, null);
  const whole = FORMAT_FRAMING[format] === 'document';
  const parts = whole ? [{ firstLine: 1, lines: [input], refused: [] }] : linesOf(bytes);
  const golden: Golden = { readings: [], spectra: [], deadLetters: [] };
  for (const part of parts) {
    const { batch } = parseChunk({ source: 's', lane: 0, origin: 'input', ...part, refused: part.refused.length > 0 ? part.refused : undefined, parser, whole, ack: () => undefined });
    golden.readings.push(...batch.readings.map((r) => ({ sensor: r.sensor, measure: r.measure, ts: new Date(r.ts).toISOString(), value: r.value })));
    golden.spectra.push(...(batch.spectra ?? []).map((s) => ({ ...s, ts: new Date(s.ts).toISOString() })));
    golden.deadLetters.push(...batch.deadLetters.map((d) => ({ line: d.line ?? null, reason: d.reason, raw: d.raw ?? '' })));
  }
  return golden;
}

function linesOf(bytes: Buffer) {
  const splitter = new LineSplitter(1024 * 1024);
  const items: SplitItem[] = [];
  splitter.push(bytes, items);
  splitter.end(items);
  return chunkParts(items, 1, 1024 * 1024);
}

const formats = readdirSync(FIXTURES).filter((f): f is FormatName => f in FORMATS);

describe.each(formats)('format %s: golden fixtures', (format) => {
  const cases = readdirSync(path.join(FIXTURES, format)).sort();
  it.each(cases)('%s', (name) => {
    const dir = path.join(FIXTURES, format, name);
    const actual = run(format, dir);
    const expectedFile = path.join(dir, 'expected.json');
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(expectedFile, JSON.stringify(actual, null, 2) + '\n');
    }
    expect(actual).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')) as Golden);
  });
});

it('has fixtures for every format, including malformed cases', () => {
  expect([...formats].sort()).toEqual(Object.keys(FORMATS).sort());
  for (const format of formats) {
    expect(readdirSync(path.join(FIXTURES, format)).some((c) => c.startsWith('malformed')), `${format} has a malformed case`).toBe(true);
  }
});
