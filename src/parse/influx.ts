/**
 * `influx`: InfluxDB line protocol, as Telegraf's `outputs.socket_writer` / `outputs.file`
 * write it, so Telegraf, Node-RED and others can feed the agent:
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 * - the sensor is the tag named by `sensor_tag` (default `sensor`), else the measurement;
 *   other tags are not carried (Senseye data points have no tags);
 * - each field is one measure: floats (`1.5`, `1e3`), integers (`42i`), unsigned (`42u`) →
 *   number; strings (`"text"`) → string; `t/T/true/True/TRUE`, `f/F/false/False/FALSE` → boolean;
 * - the timestamp is an epoch in `precision` (default ns); a line without one takes the
 *   arrival time;
 * - escaping as Telegraf's own parser reads it: `\,` `\ ` in the measurement; `\,` `\=` `\ `
 *   `\"` in tag keys, tag values and field keys; `\"` `\\` in string fields; any other
 *   backslash stays as written. Blank lines and `#` comments are skipped.
 * A line with any bad part is refused whole (never half a line), with the part named.
 */
import type { LineParser, ParserFactory } from './parser.js';
import { invalid, type LineOutcome, type Reading, type ReadingValue } from './reading.js';
import { parseEpoch } from './timestamp.js';

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+i$/;
const UNSIGNED = /^\d+u$/;
// Regex literals inside parseLine would be a new RegExp object per line: kept here instead.
const NOT_SPACE = /\S/;
const NEGATIVE_DIGITS = /^-\d+$/;
const DIGITS = /^\d+$/;
const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);

interface Name {
  text: string;
  end: number;
}
type Scan = ({ ok: true } & Name) | { ok: false; reason: string };

/** Reads up to (not including) an unescaped stop character; `escapable` are the escapes that fold. */
function scanName(line: string, start: number, stops: string, escapable: string): Name {
  // Most names have no backslash: one slice, instead of a string grown a character at a time.
  let end = start;
  while (end < line.length) {
    const c = line[end]!;
    if (c === '\\') return scanEscapedName(line, start, stops, escapable);
    if (stops.includes(c)) break;
    end++;
  }
  return { text: line.slice(start, end), end };
}

function scanEscapedName(line: string, start: number, stops: string, escapable: string): Name {
  let out = '';
  let i = start;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      const next = line[i + 1]!;
      if (escapable.includes(next)) {
        out += next;
        i += 2;
        continue;
      }
      out += c;
      i++;
      continue;
    }
    if (stops.includes(c)) break;
    out += c;
    i++;
  }
  return { text: out, end: i };
}

function scanString(line: string, start: number): Scan {
  let out = '';
  let i = start + 1;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
      out += line[i + 1];
      i += 2;
      continue;
    }
    if (c === '"') return { ok: true, text: out, end: i + 1 };
    out += c;
    i++;
  }
  return { ok: false, reason: 'unterminated string field (missing closing ")' };
}

function fieldValue(token: string): ReadingValue | undefined {
  if (FLOAT.test(token)) {
    const n = Number(token);
    return Number.isFinite(n) ? n : undefined;
  }
  if (INTEGER.test(token) || UNSIGNED.test(token)) return Number(token.slice(0, -1));
  if (TRUE.has(token)) return true;
  if (FALSE.has(token)) return false;
  return undefined;
}

export const createInfluxParser: ParserFactory = (options): LineParser => {
  const sensorTag = options.sensorTag ?? 'sensor';
  const unit = options.epochUnit ?? 'ns';
  const now = options.now ?? Date.now;
  return {
    saveState: () => null,
    parseLine(line: string): LineOutcome {
      const first = line.search(NOT_SPACE);
      if (first === -1 || line[first] === '#') return { ok: true, readings: [] };
      const m = scanName(line, first, ', ', ', ');
      if (m.text.length === 0) return invalid('line protocol: missing measurement name');
      let i = m.end;
      let sensor = m.text;
      while (line[i] === ',') {
        const key = scanName(line, i + 1, '=, ', ',= "');
        if (line[key.end] !== '=') return invalid(`line protocol: tag "${key.text}" has no "="`);
        const value = scanName(line, key.end + 1, ', ', ',= "');
        if (key.text.length === 0 || value.text.length === 0) return invalid('line protocol: empty tag key or value');
        if (key.text === sensorTag) sensor = value.text;
        i = value.end;
      }
      if (line[i] !== ' ') return invalid('line protocol: expected a space and fields after the measurement and tags');
      while (line[i] === ' ') i++;
      const readings: Reading[] = [];
      const fields: Array<{ key: string; value: ReadingValue }> = [];
      for (;;) {
        const key = scanName(line, i, '=, ', ',= "');
        if (key.text.length === 0) return invalid(`line protocol: missing field key at column ${i + 1}`);
        if (line[key.end] !== '=') return invalid(`line protocol: field "${key.text}" has no "=value"`);
        i = key.end + 1;
        let value: ReadingValue | undefined;
        if (line[i] === '"') {
          const s = scanString(line, i);
          if (!s.ok) return invalid(`line protocol: field "${key.text}": ${s.reason}`);
          value = s.text;
          i = s.end;
        } else {
          let end = i;
          while (end < line.length && line[end] !== ',' && line[end] !== ' ') end++;
          const token = line.slice(i, end);
          value = fieldValue(token);
          if (value === undefined) {
            return invalid(`line protocol: field "${key.text}" has value "${token.slice(0, 40)}", which is not a float, integer (42i), unsigned (42u), "string" or boolean`);
          }
          i = end;
        }
        fields.push({ key: key.text, value });
        if (line[i] !== ',') break;
        i++;
      }
      while (line[i] === ' ') i++;
      let ts: number;
      const rest = line.slice(i).trimEnd();
      if (rest.length === 0) ts = now();
      else {
        if (NEGATIVE_DIGITS.test(rest)) return invalid(`line protocol: timestamp ${rest.slice(0, 40)} is before 1970`);
        if (!DIGITS.test(rest)) return invalid(`line protocol: "${rest.slice(0, 40)}" after the fields is not a timestamp`);
        const parsed = parseEpoch(rest, unit);
        if (!parsed.ok) return invalid(`line protocol: ${parsed.reason}${unit === 'ns' ? ' (set `precision` if the sender writes s, ms or us)' : ''}`);
        ts = parsed.ms;
      }
      for (const f of fields) readings.push({ sensor, measure: f.key, ts, value: f.value });
      return { ok: true, readings };
    },
  };
};
