/**
 * `jsonl`: one JSON object per line,
 * `{"sensor":"press-01","measure":"temperature","ts":"2026-11-27T10:00:00.000Z","value":42.1}`.
 * `ts` is RFC 3339 with an offset or epoch milliseconds; `value` a finite number, string or boolean.
 */
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome, type ReadingValue } from './reading.js';
import { parseEpochMillis, parseRfc3339 } from './timestamp.js';

export const createJsonlParser: ParserFactory = (options): LineParser => {
  const defaultSensor = options.sensor;
  return {
    saveState: () => null,
    parseLine(line: string): LineOutcome {
      if (line.trim().length === 0) return { ok: true, readings: [] };
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (err) {
        return invalid(`not valid JSON: ${(err as Error).message}`);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        return invalid('expected a JSON object per line');
      }
      const r = record as Record<string, unknown>;
      if ('spectrum' in r) {
        return invalid('spectrum records are not supported by this source format yet');
      }
      const sensor = r.sensor ?? defaultSensor;
      if (typeof sensor !== 'string' || sensor.length === 0) {
        return invalid(
          r.sensor === undefined
            ? 'missing "sensor" (or set the source\'s `sensor` setting)'
            : '"sensor" must be a non-empty string',
        );
      }
      const measure = r.measure;
      if (typeof measure !== 'string' || measure.length === 0) {
        return invalid(measure === undefined ? 'missing "measure"' : '"measure" must be a non-empty string');
      }
      const ts = r.ts;
      let parsedTs;
      if (typeof ts === 'string') parsedTs = parseRfc3339(ts);
      else if (typeof ts === 'number') parsedTs = parseEpochMillis(ts);
      else return invalid(ts === undefined ? 'missing "ts"' : '"ts" must be an RFC 3339 string or epoch milliseconds');
      if (!parsedTs.ok) return invalid(parsedTs.reason);
      const value = r.value;
      if (!isValue(value)) {
        return invalid(
          value === undefined
            ? 'missing "value"'
            : '"value" must be a finite number, a string or a boolean',
        );
      }
      return { ok: true, readings: [{ sensor, measure, ts: parsedTs.ms, value }] };
    },
  };
};

function isValue(value: unknown): value is ReadingValue {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' || typeof value === 'boolean';
}
