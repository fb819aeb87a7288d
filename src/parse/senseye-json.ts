/**
 * `senseye-json`: Senseye's time-series JSON, a document format:
 *   [{ "assetId": "press-01" | "sensorId": "<uuid>",
 *      "dataPoints": [{ "timestamp": "2026-11-27T10:00:00Z", "measures": [{ "name": "rms", "value": 1.5 }] }] }]
 * A single object instead of the array is accepted too. `assetId` is the mapping id, i.e. the
 * local sensor name; a `sensorId` is looked up in `sensors.<name>.sensor_id` of the config.
 *
 * Files are parsed whole (`parseWhole`); over sockets each line is one document (`parseLine`).
 * Granularity of refusal: a document that is not JSON is refused whole; otherwise each bad
 * sensor entry, data point or measure is refused on its own (with its JSON path and text) and
 * the rest of the document is used. A `null` value means "no value" and is skipped.
 */
import { DEFAULT_MAX_NAME_LENGTH, NameCheck } from './names.js';
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome, type Reading, type RecordProblem } from './reading.js';
import { ZoneClock } from './timezone.js';
import { isReadingValue, jsonTimestamp } from './values.js';

const RAW_MAX = 4096;

export const createSenseyeJsonParser: ParserFactory = (options): LineParser => {
  const zone = options.timezone === undefined ? undefined : new ZoneClock(options.timezone);
  const sensorIds = options.sensorIds ?? new Map<string, string>();
  const window = options.timeWindow;
  const maxName = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
  const sensorName = new NameCheck('sensor', maxName);
  const measureName = new NameCheck('"name"', maxName);

  function parseDocument(text: string): LineOutcome {
    if (text.trim().length === 0) return { ok: true, readings: [] };
    let doc: unknown;
    try {
      doc = JSON.parse(stripBom(text));
    } catch (err) {
      return invalid(`not valid JSON: ${(err as Error).message}`);
    }
    const entries = Array.isArray(doc) ? doc : [doc];
    const readings: Reading[] = [];
    const rejected: RecordProblem[] = [];
    const reject = (path: string, value: unknown, reason: string) =>
      rejected.push({ reason: `${path}: ${reason}`, raw: clipJson(value) });
    entries.forEach((entry: unknown, i) => {
      const at = Array.isArray(doc) ? `[${i}]` : '$';
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        reject(at, entry, 'expected an object with assetId or sensorId and dataPoints');
        return;
      }
      const e = entry as Record<string, unknown>;
      const sensor = sensorOf(e, sensorIds);
      if (!sensor.ok) {
        reject(at, entry, sensor.reason);
        return;
      }
      const badSensor = sensorName.problem(sensor.name);
      if (badSensor !== null) {
        reject(at, entry, badSensor);
        return;
      }
      if (!Array.isArray(e.dataPoints)) {
        reject(at, entry, e.dataPoints === undefined ? 'missing "dataPoints"' : '"dataPoints" must be an array');
        return;
      }
      e.dataPoints.forEach((point: unknown, j) => {
        const pAt = `${at}.dataPoints[${j}]`;
        const p = point as Record<string, unknown> | null;
        if (typeof p !== 'object' || p === null || Array.isArray(p)) return reject(pAt, point, 'expected an object with timestamp and measures');
        const ts = jsonTimestamp(p.timestamp, zone, 'ms', window);
        if (ts === undefined) return reject(pAt, point, p.timestamp === undefined ? 'missing "timestamp"' : '"timestamp" must be an RFC 3339 string');
        if (!ts.ok) return reject(pAt, point, ts.reason);
        if (!Array.isArray(p.measures)) return reject(pAt, point, p.measures === undefined ? 'missing "measures"' : '"measures" must be an array');
        p.measures.forEach((measure: unknown, k) => {
          const mAt = `${pAt}.measures[${k}]`;
          const m = measure as Record<string, unknown> | null;
          const raw = { sensor: sensor.name, timestamp: p.timestamp, measure };
          if (typeof m !== 'object' || m === null || Array.isArray(m)) return reject(mAt, raw, 'expected an object with name and value');
          if (typeof m.name !== 'string' || m.name.length === 0) return reject(mAt, raw, m.name === undefined ? 'missing "name"' : '"name" must be a non-empty string');
          const badName = measureName.problem(m.name);
          if (badName !== null) return reject(mAt, raw, badName);
          if (m.value === null) return;
          if (!isReadingValue(m.value)) {
            return reject(mAt, raw, m.value === undefined ? 'missing "value"' : '"value" must be a finite number, a string or a boolean');
          }
          readings.push({ sensor: sensor.name, measure: m.name, ts: ts.ms, value: m.value });
        });
      });
    });
    return { ok: true, readings, rejected: rejected.length > 0 ? rejected : undefined };
  }

  return { saveState: () => null, parseLine: parseDocument, parseWhole: parseDocument };
};

function sensorOf(e: Record<string, unknown>, sensorIds: ReadonlyMap<string, string>): { ok: true; name: string } | { ok: false; reason: string } {
  const hasAsset = e.assetId !== undefined;
  const hasSensor = e.sensorId !== undefined;
  if (hasAsset && hasSensor) return { ok: false, reason: 'has both "assetId" and "sensorId": give one' };
  if (hasAsset) {
    return typeof e.assetId === 'string' && e.assetId.length > 0 ? { ok: true, name: e.assetId } : { ok: false, reason: '"assetId" must be a non-empty string' };
  }
  if (hasSensor) {
    if (typeof e.sensorId !== 'string' || e.sensorId.length === 0) return { ok: false, reason: '"sensorId" must be a non-empty string' };
    const name = sensorIds.get(e.sensorId.toLowerCase());
    if (name === undefined) {
      return { ok: false, reason: `sensorId ${e.sensorId} is not in the config: add it as sensors.<name>.sensor_id, or send "assetId" instead` };
    }
    return { ok: true, name };
  }
  return { ok: false, reason: 'missing "assetId" (or "sensorId")' };
}

function clipJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > RAW_MAX ? text.slice(0, RAW_MAX) : text;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
