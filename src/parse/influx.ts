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
 *
 * Where the agent follows the line protocol reference more strictly than "anything that
 * splits": integers must fit int64 (`i`) and uint64 (`u`), or are refused rather than rounded;
 * names (measurement, tag keys and values, field keys) follow names.ts — no control characters,
 * no lone surrogates, the sensor and measure names at most `input.max_name_length`.
 *
 * A quoted string field value may hold a newline (the reference allows it). Sources cut input
 * at every newline, so a line that ends inside an open string field value is held (it is the
 * parser's state, saved with the file position) and the next line joined to it with the
 * newline, until the string closes. Bounded: a held record is given up — dead-lettered as an
 * unterminated string, and the line that ended it parsed on its own — when the joined text
 * fails, when the next line is a valid record on its own (a missing quote must not swallow
 * good lines), or beyond HOLD_MAX_LINES lines or HOLD_MAX_CHARS characters.
 */
import type { LineParser, ParserFactory } from './parser.js';
import { DEFAULT_MAX_NAME_LENGTH, NameCheck, nameProblem } from './names.js';
import { invalid, NO_READINGS, type LineOutcome, type Reading, type ReadingValue, type RecordProblem } from './reading.js';
import { parseEpoch } from './timestamp.js';

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+i$/;
const UNSIGNED = /^\d+u$/;
// Regex literals inside parseLine would be a new RegExp object per line: kept here instead.
const NOT_SPACE = /\S/;
const NEGATIVE_DIGITS = /^-\d+$/;
const DIGITS = /^\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
export const HOLD_MAX_LINES = 64;
export const HOLD_MAX_CHARS = 64 * 1024;
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

type FieldValue = ReadingValue | { outOfRange: string } | undefined;

function fieldValue(token: string): FieldValue {
  if (FLOAT.test(token)) {
    const n = Number(token);
    return Number.isFinite(n) ? n : undefined;
  }
  const integer = INTEGER.test(token);
  if (integer || UNSIGNED.test(token)) {
    const digits = token.slice(0, -1);
    // 18 digits always fit; longer ones are compared exactly.
    if (digits.length - (digits[0] === '-' || digits[0] === '+' ? 1 : 0) >= 19) {
      const v = BigInt(digits);
      if (integer ? v < INT64_MIN || v > INT64_MAX : v > UINT64_MAX) return { outOfRange: integer ? 'int64' : 'uint64' };
    }
    return Number(digits);
  }
  if (TRUE.has(token)) return true;
  if (FALSE.has(token)) return false;
  return undefined;
}

/** The text ends inside a quoted string field value: the record may go on after a newline. */
const OPEN = Symbol('open string');

interface HeldRecord {
  text: string;
  lines: number;
}

export const createInfluxParser: ParserFactory = (options, savedState): LineParser => {
  const sensorTag = options.sensorTag ?? 'sensor';
  const unit = options.epochUnit ?? 'ns';
  const window = options.timeWindow;
  const now = options.now ?? Date.now;
  const maxName = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
  const sensorName = new NameCheck('sensor', maxName);
  const measurementName = new NameCheck('measurement', Infinity);
  const tagKeys = new NameCheck('tag key', Infinity);
  const tagValues = new NameCheck('tag value', Infinity);
  const fieldKeys = new NameCheck('field key', maxName);
  /** The field whose string value was open when parseRecord last returned OPEN. */
  let openField = '';
  const unterminated = () => `line protocol: field "${openField}": unterminated string field (missing closing ")`;
  let held: HeldRecord | null = savedState === null ? null : (JSON.parse(savedState) as HeldRecord);

  function parseRecord(line: string): LineOutcome | typeof OPEN {
    const first = line.search(NOT_SPACE);
    if (first === -1 || line[first] === '#') return { ok: true, readings: [] };
    const m = scanName(line, first, ', ', ', ');
    if (m.text.length === 0) return invalid('line protocol: missing measurement name');
    const badMeasurement = measurementName.problem(m.text);
    if (badMeasurement !== null) return invalid(`line protocol: ${badMeasurement}`);
    let i = m.end;
    let sensor = m.text;
    while (line[i] === ',') {
      const key = scanName(line, i + 1, '=, ', ',= "');
      if (line[key.end] !== '=') return invalid(`line protocol: tag "${key.text}" has no "="`);
      const value = scanName(line, key.end + 1, ', ', ',= "');
      if (key.text.length === 0 || value.text.length === 0) return invalid('line protocol: empty tag key or value');
      // A bad value's reason names its tag.
      const badTag = tagKeys.problem(key.text) ?? (tagValues.problem(value.text) === null ? null : nameProblem(value.text, `tag ${key.text}`, Infinity));
      if (badTag !== null) return invalid(`line protocol: ${badTag}`);
      if (key.text === sensorTag) sensor = value.text;
      i = value.end;
    }
    const badSensor = sensorName.problem(sensor);
    if (badSensor !== null) return invalid(`line protocol: ${badSensor}`);
    if (line[i] !== ' ') return invalid('line protocol: expected a space and fields after the measurement and tags');
    while (line[i] === ' ') i++;
    const readings: Reading[] = [];
    const fields: Array<{ key: string; value: ReadingValue }> = [];
    for (;;) {
      const key = scanName(line, i, '=, ', ',= "');
      if (key.text.length === 0) return invalid(`line protocol: missing field key at column ${i + 1}`);
      if (line[key.end] !== '=') return invalid(`line protocol: field "${key.text}" has no "=value"`);
      const badKey = fieldKeys.problem(key.text);
      if (badKey !== null) return invalid(`line protocol: ${badKey}`);
      i = key.end + 1;
      let value: FieldValue;
      if (line[i] === '"') {
        const s = scanString(line, i);
        if (!s.ok) {
          openField = key.text;
          return OPEN;
        }
        value = s.text;
        i = s.end;
      } else {
        let end = i;
        while (end < line.length && line[end] !== ',' && line[end] !== ' ') end++;
        const token = line.slice(i, end);
        value = fieldValue(token);
        if (typeof value === 'object') {
          return invalid(`line protocol: field "${key.text}" has value ${token.slice(0, 40)}, outside ${value.outOfRange} (the line protocol's range for ${token.endsWith('i') ? 'integers' : 'unsigned integers'})`);
        }
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
      const parsed = parseEpoch(rest, unit, window);
      if (!parsed.ok) return invalid(`line protocol: ${parsed.reason}${unit === 'ns' ? ' (set `precision` if the sender writes s, ms or us)' : ''}`);
      ts = parsed.ms;
    }
    for (const f of fields) readings.push({ sensor, measure: f.key, ts, value: f.value });
    return { ok: true, readings };
  }

  function parseAlone(line: string): LineOutcome {
    const r = parseRecord(line);
    if (r !== OPEN) return r;
    held = { text: line, lines: 1 };
    return NO_READINGS;
  }

  return {
    saveState: () => (held === null ? null : JSON.stringify(held)),
    parseLine(line: string): LineOutcome {
      if (held === null) return parseAlone(line);
      const before = held;
      const text = `${before.text}\n${line}`;
      const joined = parseRecord(text);
      if (joined !== OPEN && joined.ok) {
        held = null;
        return joined;
      }
      const alone = parseRecord(line);
      if (joined === OPEN && !(alone !== OPEN && alone.ok && alone.readings.length > 0) && before.lines < HOLD_MAX_LINES && text.length <= HOLD_MAX_CHARS) {
        held = { text, lines: before.lines + 1 };
        return NO_READINGS;
      }
      // Given up: the line that opened the string is refused; the lines held after it (each
      // no valid record alone) are parsed alone, each dead-lettered with its own line and
      // reason; this line stands on its own.
      held = null;
      const heldLines = before.text.split('\n');
      const problems: RecordProblem[] = [];
      const readings: Reading[] = [];
      for (let k = 0; k < heldLines.length; k++) {
        const r = parseRecord(heldLines[k]!);
        if (r === OPEN) problems.push({ reason: unterminated(), raw: heldLines[k], linesBefore: heldLines.length - k });
        else if (!r.ok) problems.push({ reason: r.reason, raw: heldLines[k], linesBefore: heldLines.length - k });
        else for (const reading of r.readings) readings.push(reading);
      }
      const own = alone === OPEN ? parseAlone(line) : alone;
      if (!own.ok) return { ok: true, readings, rejected: [...problems, { reason: own.reason, raw: line }] };
      return { ...own, readings: [...readings, ...own.readings], rejected: [...problems, ...(own.rejected ?? [])] };
    },
  };
};
