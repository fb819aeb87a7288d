/**
 * Schemas of `sources[]`, one per source type (discriminated by `type`), plus the format
 * settings every type shares. Strict like the rest: an unknown key is an error, and a format
 * setting given to a format that does not use it is an error too (a typo or a wrong format,
 * either way something the operator wants to know before the agent runs).
 * docs/sources.md documents every key; defaults live here.
 */
import { z } from 'zod';
import { FORMAT_NAMES, hasHeader, type FormatName } from '../parse/registry.js';
import { EPOCH_UNITS } from '../parse/timestamp.js';
import { isValidTimeZone } from '../parse/timezone.js';
import { parseListen, type ListenAddress } from './listen-address.js';
import { sourceInputSettings } from './input-schema.js';
import { duration, name, size } from './primitives.js';

const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected a glob (a string) or a list of globs',
});

const column = z.union([z.number().int().min(0), z.string().min(1)], { error: 'expected a column number (0-based) or a header name' });

/** Settings of the record format, shared by every source type. */
const formatSettings = {
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

const ONLY_FOR: Array<[key: string, formats: FormatName[]]> = [
  ['epoch_unit', ['jsonl', 'csv']],
  ['precision', ['influx']],
  ['sensor_tag', ['influx']],
  ['columns', ['csv']],
  ['delimiter', ['csv']],
  ['header', ['csv']],
  ['timezone', ['jsonl', 'senseye-csv', 'senseye-json', 'spectrum-csv', 'csv']],
];

interface FormatSettings {
  type: string;
  format: FormatName;
  sensor?: string | undefined;
  columns?: { sensor?: number | string | undefined; ts: unknown; measure: unknown; value: unknown } | undefined;
  header?: boolean | undefined;
}

function checkFormat(s: FormatSettings & Record<string, unknown>, ctx: z.RefinementCtx): void {
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

const maxLineBytes = size.pipe(z.number().int().min(1024, 'at least 1KiB')).default(1024 * 1024);

const listen = z.union([z.string(), z.number().int()]).transform((value, ctx): ListenAddress => {
  const parsed = parseListen(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

/**
 * A file mode, written as a quoted octal string ("0660"). A bare number is refused: YAML reads
 * `0660` as decimal 660 and `0o660` as 432, and a permission silently misread is worse than a
 * config error.
 */
const fileMode = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = typeof value === 'string' ? value.trim().replace(/^0o/, '') : '';
  if (typeof value !== 'string' || !/^[0-7]{3,4}$/.test(text)) {
    ctx.addIssue({
      code: 'custom',
      message:
        typeof value === 'number'
          ? `write the mode quoted, e.g. mode: '0660' (YAML reads an unquoted mode as a decimal number, here ${value})`
          : `expected an octal file mode such as '0660', found ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return parseInt(text, 8);
});

export const fileSource = z
  .strictObject({
    name,
    type: z.literal('file'),
    /** One glob or several; all matching files are tailed. */
    path: globs,
    /** Globs of files not to read (a pattern without "/" matches file names anywhere). */
    exclude: globs.optional(),
    /** Read what a symbolic link points to (only a regular file). Off: links are skipped and logged. */
    follow_symlinks: z.boolean().default(false),
    /** Where to start in files found at the very first run of this source. */
    start_at: z.enum(['beginning', 'end']).default('beginning'),
    /** How often the globs are re-evaluated for new files. */
    refresh_interval: duration.default(1000),
    /** How often a file at its end is checked for growth. */
    poll_interval: duration.default(250),
    /** How long a file that no longer matches (rotated away, deleted) is still followed for late writes. */
    rotate_wait: duration.default(5000),
    max_line_bytes: maxLineBytes,
    /**
     * Files held open at once (one descriptor each). More matching files are read in turn: a file
     * at its end is closed to make room and found again by identity when it grows. All sources
     * together also stay below the process's open-files limit minus a reserve (docs/sources.md).
     */
    max_open_files: z.number().int().min(1).max(1_000_000).default(64),
    ...formatSettings,
  })
  .superRefine(checkFormat);

export const spoolSource = z
  .strictObject({
    name,
    type: z.literal('spool'),
    /** The folder complete files are dropped into (renamed in atomically). */
    path: z.string().min(1),
    /** Which files in the folder to take (default every file; names starting with "." are never taken). */
    pattern: z.string().min(1).default('*'),
    exclude: globs.optional(),
    /** Read what a symbolic link points to (only a regular file). Off: links are skipped and logged. */
    follow_symlinks: z.boolean().default(false),
    /** What happens to a file once ingested: deleted, or moved to `done/` in the folder. */
    after: z.enum(['delete', 'move']).default('delete'),
    poll_interval: duration.default(1000),
    max_line_bytes: maxLineBytes,
    /** Largest whole document (senseye-json) read; larger files go to `failed/`. */
    max_file_bytes: size.default(64 * 1024 * 1024),
    ...formatSettings,
  })
  .superRefine(checkFormat);

const streamSettings = {
  max_line_bytes: maxLineBytes,
  /** A connection that sends nothing for this long is closed (0: never). */
  idle_timeout: duration.default(300_000),
  max_connections: z.number().int().min(1).max(100_000).default(1000),
};

export const tcpSource = z
  .strictObject({
    name,
    type: z.literal('tcp'),
    listen,
    tls: z
      .strictObject({
        cert: z.string().min(1),
        key: z.string().min(1),
        /** CA bundle that client certificates must chain to (mutual TLS); absent: no client certificates. */
        client_ca: z.string().min(1).optional(),
      })
      .optional(),
    ...streamSettings,
    ...formatSettings,
  })
  .superRefine(checkFormat);

export const udpSource = z
  .strictObject({
    name,
    type: z.literal('udp'),
    listen,
    /** Datagrams held while the outbox is not taking more; beyond this they are dropped and counted. */
    max_pending_bytes: size.default(8 * 1024 * 1024),
    /**
     * The socket's receive buffer (SO_RCVBUF): datagrams the kernel holds while the agent is busy;
     * beyond it the kernel drops them (counted, see udp-drops.ts). Capped by net.core.rmem_max.
     */
    receive_buffer: size.default(4 * 1024 * 1024),
    ...formatSettings,
  })
  .superRefine(checkFormat);

export const unixSource = z
  .strictObject({
    name,
    type: z.literal('unix'),
    path: z.string().min(1),
    mode: fileMode.default(0o660),
    ...streamSettings,
    ...formatSettings,
  })
  .superRefine(checkFormat);

export const sourceSchema = z.discriminatedUnion('type', [fileSource, spoolSource, tcpSource, udpSource, unixSource]);

export type SourceConfig = z.output<typeof sourceSchema>;
export type FileSourceConfig = Extract<SourceConfig, { type: 'file' }>;
export type SpoolSourceConfig = Extract<SourceConfig, { type: 'spool' }>;
export type TcpSourceConfig = Extract<SourceConfig, { type: 'tcp' }>;
export type UdpSourceConfig = Extract<SourceConfig, { type: 'udp' }>;
export type UnixSourceConfig = Extract<SourceConfig, { type: 'unix' }>;

/** Makes every path of a source absolute (relative paths are relative to the config file). */
export function resolveSourcePaths(source: SourceConfig, abs: (p: string) => string): SourceConfig {
  const many = (p: string | string[]) => (Array.isArray(p) ? p.map(abs) : abs(p));
  // An exclude pattern without "/" matches file names anywhere: it is not a path.
  const exclude = (p: string | string[] | undefined) =>
    p === undefined ? undefined : (Array.isArray(p) ? p : [p]).map((g) => (g.includes('/') ? abs(g) : g));
  switch (source.type) {
    case 'file':
      return { ...source, path: many(source.path), exclude: exclude(source.exclude) };
    case 'spool':
      return { ...source, path: abs(source.path) };
    case 'unix':
      return { ...source, path: abs(source.path) };
    case 'tcp':
      return source.tls === undefined
        ? source
        : { ...source, tls: { cert: abs(source.tls.cert), key: abs(source.tls.key), client_ca: source.tls.client_ca === undefined ? undefined : abs(source.tls.client_ca) } };
    case 'udp':
      return source;
  }
}
