/**
 * Schemas of `sources[]`, one per source type (discriminated by `type`), plus the format
 * settings every type shares. Strict like the rest: an unknown key is an error, and a format
 * setting given to a format that does not use it is an error too (a typo or a wrong format,
 * either way something the operator wants to know before the agent runs).
 * docs/sources.md documents every key; defaults live here.
 */
import { z } from 'zod';
import { checkFormat, formatSettings } from './format-settings.js';
import { parseListen, type ListenAddress } from './listen-address.js';
import { mqttSource } from './mqtt-schema.js';
import { duration, name, size } from './primitives.js';

const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected a glob (a string) or a list of globs',
});

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

export const sourceSchema = z.discriminatedUnion('type', [fileSource, spoolSource, tcpSource, udpSource, unixSource, mqttSource]);

export type SourceConfig = z.output<typeof sourceSchema>;
export type FileSourceConfig = Extract<SourceConfig, { type: 'file' }>;
export type SpoolSourceConfig = Extract<SourceConfig, { type: 'spool' }>;
export type TcpSourceConfig = Extract<SourceConfig, { type: 'tcp' }>;
export type UdpSourceConfig = Extract<SourceConfig, { type: 'udp' }>;
export type UnixSourceConfig = Extract<SourceConfig, { type: 'unix' }>;
export type { MqttSourceConfig } from './mqtt-schema.js';

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
    case 'mqtt': {
      const opt = (p: string | undefined) => (p === undefined ? undefined : abs(p));
      const tls = source.tls === undefined ? undefined : { ...source.tls, ca: opt(source.tls.ca), cert: opt(source.tls.cert), key: opt(source.tls.key) };
      return { ...source, password_file: opt(source.password_file), tls };
    }
  }
}
