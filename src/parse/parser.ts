/**
 * The contract every format implements. Parsers are pure apart from per-file state (a CSV
 * header); that state is saved with the file's checkpoint so a restart mid-file parses the
 * remaining lines exactly as an uninterrupted run would.
 *
 * Two framings (registry.ts says which a format has):
 * - `lines`: the source hands over one record per line (`parseLine`).
 * - `document`: a record set is one whole document (Senseye's time-series JSON). File and spool
 *   sources read a complete file and call `parseWhole` once with its text; socket sources call
 *   `parseLine` with one document per line (newline-delimited documents).
 * Either way a parser never throws on bad input: a record it cannot use comes back as a reason,
 * either for the whole input (`{ok:false}`) or for single records inside an otherwise good one
 * (`rejected`).
 */
import type { EpochUnit, TimeWindow } from './timestamp.js';
import type { LineOutcome } from './reading.js';

export type Framing = 'lines' | 'document';

export interface LineParser {
  /** Parses one line (without its newline). Never throws on bad input: returns `{ok:false, reason}`. */
  parseLine(line: string): LineOutcome;
  /** Opaque state to persist with the checkpoint; null when the parser is stateless. */
  saveState(): string | null;
  /** Document formats: parses one complete document (a whole file). */
  parseWhole?(text: string): LineOutcome;
}

/** Where each value sits in a generic CSV row: 0-based column indexes or header names. */
export interface CsvColumns {
  ts: number | string;
  sensor?: number | string | undefined;
  measure: number | string;
  value: number | string;
}

export interface CsvLayout {
  columns: CsvColumns;
  /** One character; `,` by default. */
  delimiter: string;
  /** The first line is a header (skipped; names in `columns` are looked up in it). */
  header: boolean;
}

export interface ParserOptions {
  /** Sensor for formats whose records do not name one (senseye-csv), or a default for jsonl. */
  sensor?: string | undefined;
  /** jsonl: measure for records that do not name one (an MQTT topic level). */
  measure?: string | undefined;
  /** IANA zone for timestamps written without an offset; without it such timestamps are refused. */
  timezone?: string | undefined;
  /** Unit of numeric (epoch) timestamps: jsonl and csv (default ms), influx `precision` (default ns). */
  epochUnit?: EpochUnit | undefined;
  /** influx: the tag that names the sensor (default `sensor`; else the measurement is the sensor). */
  sensorTag?: string | undefined;
  /** csv: columns, delimiter, header. */
  csv?: CsvLayout | undefined;
  /** senseye-json: hub sensor ids (`sensorId`) → local sensor names, from `sensors.<name>.sensor_id`. */
  sensorIds?: ReadonlyMap<string, string> | undefined;
  /** Longest sensor or measure name, in characters (`input.max_name_length`; names.ts). */
  maxNameLength?: number | undefined;
  /** Times outside it are refused, however written (`input.time_window`; timestamp.ts). */
  timeWindow?: TimeWindow | undefined;
  /** influx lines without a timestamp take this time (the arrival time); injectable for tests. */
  now?: (() => number) | undefined;
}

export type ParserFactory = (options: ParserOptions, savedState: string | null) => LineParser;
