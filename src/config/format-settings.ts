/**
 * The record-format settings every source type shares (`format`, `sensor`, `timezone`, csv
 * columns…) and the check that a setting is only given to a format that uses it. Kept apart from
 * sources-schema.ts so that source schemas in their own modules (mqtt-schema.ts) use the same ones.
 */
import { z } from 'zod';
import { FORMAT_NAMES, hasHeader, type FormatName } from '../parse/registry.js';
import { EPOCH_UNITS } from '../parse/timestamp.js';
import { isValidTimeZone } from '../parse/timezone.js';
import { sourceInputSettings } from './input-schema.js';

const column = z.union([z.number().int().min(0), z.string().min(1)], { error: 'expected a column number (0-based) or a header name' });

/** Settings of the record format, shared by every source type. */
export const formatSettings = {
  format: z.enum(FORMAT_NAMES),
  /** Sensor for records that do not name one. */
  sensor: z.string().min(1).optional(),
  /** IANA zone for timestamps written without an offset. */
  timezone: z
    .string()
    .refine(isValidTimeZone, { message: 'expected an IANA time zone name such as Europe/Berlin or UTC' })
    .optional(),
  /** jsonl, csv: unit of numeric timestamps (default ms). */
  epoch_unit: z.enum(EPOCH_UNITS).optional(),
  /** influx: unit of line-protocol timestamps (default ns). */
  precision: z.enum(EPOCH_UNITS).optional(),
  /** influx: the tag naming the sensor (default `sensor`; without it the measurement is the sensor). */
  sensor_tag: z.string().min(1).optional(),
  /** csv: where ts, sensor, measure and value are. */
  columns: z.strictObject({ ts: column, sensor: column.optional(), measure: column, value: column }).optional(),
  /** csv: one character (default `,`). */
  delimiter: z.string().length(1, 'expected one character, e.g. ";" or "\\t"').optional(),
  /** csv: the first line is a header (default true). */
  header: z.boolean().optional(),
  /** This source's own max_name_length / time_window (else the top-level `input:`). */
  input: sourceInputSettings.optional(),
};

export const ONLY_FOR: Array<[key: string, formats: FormatName[]]> = [
  ['epoch_unit', ['jsonl', 'csv']],
  ['precision', ['influx']],
  ['sensor_tag', ['influx']],
  ['columns', ['csv']],
  ['delimiter', ['csv']],
  ['header', ['csv']],
  ['timezone', ['jsonl', 'senseye-csv', 'senseye-json', 'spectrum-csv', 'csv']],
];

export interface FormatSettings {
  type: string;
  format: FormatName;
  sensor?: string | undefined;
  columns?: { sensor?: number | string | undefined; ts: unknown; measure: unknown; value: unknown } | undefined;
  header?: boolean | undefined;
}

export function checkFormat(s: FormatSettings & Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const [key, formats] of ONLY_FOR) {
    if (s[key] !== undefined && !formats.includes(s.format)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `applies to format ${formats.join(', ')} only, not ${s.format}` });
    }
  }
  if (s.format === 'spectrum-csv' && s.sensor === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sensor'], message: 'spectrum-csv rows do not name their sensor: set `sensor`' });
  }
  if (s.format === 'csv' && s.sensor === undefined && s.columns?.sensor === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sensor'], message: 'set `sensor`, or `columns.sensor` for the column that names it' });
  }
  if (s.format === 'csv' && s.header === false && s.columns !== undefined) {
    for (const [k, v] of Object.entries(s.columns)) {
      if (typeof v === 'string') ctx.addIssue({ code: 'custom', path: ['columns', k], message: 'a column name needs header: true; use a column number' });
    }
  }
  if (s.type === 'udp' && hasHeader(s.format, s.header)) {
    ctx.addIssue({ code: 'custom', path: ['format'], message: `UDP datagrams carry no header row: use jsonl, influx, senseye-json or csv with header: false, not ${s.format}` });
  }
}

