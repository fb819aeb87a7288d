/**
 * `jsonl`: one JSON object per line.
 * - time series: `{"sensor":"press-01","measure":"temperature","ts":"2026-11-27T10:00:00.000Z","value":42.1}`;
 * - spectra: `{"sensor":"vib-01","ts":"…","spectrum":{"amplitudeUnit","measurementType","spacing","end","number","speed","data"}}`.
 * `ts` is RFC 3339 with an offset (or without one when the source sets `timezone`), or an
 * epoch number (milliseconds unless the source sets `epoch_unit`); `value` a finite number,
 * string or boolean. `sensor` may be left out when the source sets `sensor`, `measure` when it sets
 * a measure (an MQTT source's `measure_from_topic`).
 */
import { DEFAULT_MAX_NAME_LENGTH, NameCheck } from './names.js';
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome } from './reading.js';
import { buildSpectrum, type SpectrumFields } from './spectrum-record.js';
import { ZoneClock } from './timezone.js';
import { isReadingValue, jsonTimestamp } from './values.js';

export const createJsonlParser: ParserFactory = (options): LineParser => {
  const defaultSensor = options.sensor;
  const defaultMeasure = options.measure;
  const zone = options.timezone === undefined ? undefined : new ZoneClock(options.timezone);
  const unit = options.epochUnit ?? 'ms';
  const window = options.timeWindow;
  const maxName = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
  const sensorName = new NameCheck('"sensor"', maxName);
  const measureName = new NameCheck('"measure"', maxName);
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
      const sensor = r.sensor ?? defaultSensor;
      if (typeof sensor !== 'string' || sensor.length === 0) {
        return invalid(
          r.sensor === undefined
            ? 'missing "sensor" (or set the source\'s `sensor` setting)'
            : '"sensor" must be a non-empty string',
        );
      }
      const badSensor = sensorName.problem(sensor);
      if (badSensor !== null) return invalid(badSensor);
      const isSpectrum = 'spectrum' in r;
      const measure = r.measure ?? defaultMeasure;
      if (!isSpectrum && (typeof measure !== 'string' || measure.length === 0)) {
        return invalid(measure === undefined ? 'missing "measure"' : '"measure" must be a non-empty string');
      }
      if (!isSpectrum) {
        const badMeasure = measureName.problem(measure as string);
        if (badMeasure !== null) return invalid(badMeasure);
      }
      const ts = jsonTimestamp(r.ts, zone, unit, window);
      if (ts === undefined) {
        return invalid(r.ts === undefined ? 'missing "ts"' : `"ts" must be an RFC 3339 string or a number of epoch ${unit === 'ms' ? 'milliseconds' : `(${unit})`}`);
      }
      if (!ts.ok) return invalid(ts.reason);
      if (isSpectrum) {
        const s = r.spectrum;
        if (typeof s !== 'object' || s === null || Array.isArray(s)) return invalid('"spectrum" must be an object');
        if ('measure' in r || 'value' in r) return invalid('a record has either "spectrum" or "measure" and "value", not both');
        const built = buildSpectrum(sensor, ts.ms, s as SpectrumFields);
        return built.ok ? { ok: true, readings: [], spectra: [built.spectrum] } : invalid(built.reason);
      }
      const value = r.value;
      if (!isReadingValue(value)) {
        return invalid(value === undefined ? 'missing "value"' : '"value" must be a finite number, a string or a boolean');
      }
      return { ok: true, readings: [{ sensor, measure: measure as string, ts: ts.ms, value }] };
    },
  };
};
