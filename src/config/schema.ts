/**
 * The configuration schema: every key, its type and its default, in one place. Objects are
 * strict (an unknown key is an error, usually a typo that would otherwise be silently ignored).
 * config.example.yaml documents the same keys for people; a test keeps the two in agreement.
 */
import { z } from 'zod';
import { FORMAT_NAMES } from '../parse/registry.js';
import { parseDuration, parseSize } from './units.js';

/** A duration: "2s", "250ms", "5m", or a number of milliseconds. */
const duration = z.union([
  z.number().int().nonnegative(),
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 250ms, 2s, 5m, 1h, found "${text}"` });
      return z.NEVER;
    }
    return ms;
  }),
]);

/** A size: "512KiB", "1GiB", or a number of bytes. */
const size = z.union([
  z.number().int().nonnegative(),
  z.string().transform((text, ctx) => {
    const bytes = parseSize(text);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 512KiB or 1GiB, found "${text}"` });
      return z.NEVER;
    }
    return bytes;
  }),
]);

const name = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only');

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected a UUID');

const fileSource = z.strictObject({
  name,
  type: z.literal('file'),
  /** One glob or several; all matching files are tailed. */
  path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'expected a glob (a string) or a list of globs',
  }),
  format: z.enum(FORMAT_NAMES),
  sensor: z.string().min(1).optional(),
  /** Where to start in a file seen for the first time. */
  start_at: z.enum(['beginning', 'end']).default('beginning'),
  /** How often the globs are re-evaluated for new files. */
  refresh_interval: duration.default(1000),
  /** How often an idle file is checked for growth (file change events also wake it). */
  poll_interval: duration.default(250),
});

export const sourceSchema = z.discriminatedUnion('type', [fileSource]);

const hub = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://api.senseye.io' }),
  token_file: z.string().min(1).optional(),
  addressing: z.enum(['sensor_id', 'mapping_id']).default('sensor_id'),
  /** Per-request deadline (connect + headers + body). */
  timeout: duration.default(30_000),
  /** Requests in flight at once (different sensors; one sensor's readings go in order). */
  concurrency: z.number().int().min(1).max(64).default(4),
  batch: z
    .strictObject({
      max_points: z.number().int().min(1).max(100_000).default(5000),
      max_bytes: size.default(512 * 1024),
      max_wait: duration.default(2000),
    })
    .prefault({}),
  retry: z
    .strictObject({
      initial_delay: duration.default(1000),
      max_delay: duration.default(300_000),
    })
    .prefault({}),
  /** Paths of the hub endpoints (hub-api.md: the GraphQL path is documented, the others assumed). */
  paths: z
    .strictObject({
      graphql: z.string().startsWith('/').default('/v1/graphql'),
      sensors: z.string().startsWith('/').default('/v1/hub/sensors'),
    })
    .prefault({}),
});

const sensorOverride = z.strictObject({
  /** The hub's id of an existing sensor: readings are sent to it, no sensor is created. */
  sensor_id: uuid.optional(),
  description: z.string().optional(),
});

export const configSchema = z
  .strictObject({
    hub,
    state_dir: z.string().min(1),
    sources: z.array(sourceSchema).min(1),
    sensors: z.record(z.string(), sensorOverride).default({}),
    pipeline: z
      .strictObject({
        /** Readings per outbox transaction at most. */
        batch_size: z.number().int().min(1).max(100_000).default(10_000),
        /** How long a small batch waits for company before it is committed. */
        max_wait: duration.default(200),
      })
      .prefault({}),
    outbox: z
      .strictObject({
        /** FULL survives power loss; NORMAL (WAL) survives a process crash but may lose the last commits on power loss. */
        synchronous: z.enum(['full', 'normal']).default('full'),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
    /** How long a graceful stop may take before in-flight requests are abandoned (they stay in the outbox). */
    shutdown_timeout: duration.default(10_000),
  });

/**
 * Checks across fields, run on the raw (pre-validation) value so they are reported together
 * with type errors rather than only after those are fixed.
 */
export function crossChecks(raw: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  const sources = (raw as { sources?: unknown } | null)?.sources;
  if (!Array.isArray(sources)) return out;
  const seen = new Map<string, number>();
  sources.forEach((source: unknown, i) => {
    const s = source as { name?: unknown; format?: unknown; sensor?: unknown } | null;
    if (s === null || typeof s !== 'object') return;
    if (typeof s.name === 'string') {
      const first = seen.get(s.name);
      if (first !== undefined) {
        out.push({ path: ['sources', i, 'name'], message: `duplicate source name "${s.name}" (also sources[${first}])` });
      } else seen.set(s.name, i);
    }
    if (s.format === 'senseye-csv' && s.sensor === undefined) {
      out.push({ path: ['sources', i, 'sensor'], message: 'senseye-csv rows do not name their sensor: set `sensor`' });
    }
  });
  return out;
}

export type Config = z.output<typeof configSchema>;
export type SourceConfig = Config['sources'][number];
export type FileSourceConfig = Extract<SourceConfig, { type: 'file' }>;
export type HubConfig = Config['hub'];
