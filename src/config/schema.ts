/**
 * The configuration schema: every key, its type and its default, in one place. Objects are
 * strict (an unknown key is an error, usually a typo that would otherwise be silently ignored).
 * config.example.yaml documents the same keys for people; a test keeps the two in agreement.
 */
import { z } from 'zod';
import { inputSettings } from './input-schema.js';
import { opsConfigShape } from './ops-schema.js';
import { duration, size, uuid } from './primitives.js';
import { sourceSchema } from './sources-schema.js';

/** Log levels, for the config and every command's --log-level. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the agent authenticates: a machine token (default), or a user's OAuth password grant. */
const auth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('machine') }),
  z.strictObject({
    type: z.literal('user'),
    username: z.string().min(1),
    /** A file holding the user's password (never the password itself in the config). */
    password_file: z.string().min(1),
    client_id: z.string().min(1).optional(),
    token_path: z.string().startsWith('/').default('/oauth/token'),
  }),
]);

const hub = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://api.senseye.io' }),
  token_file: z.string().min(1).optional(),
  auth: auth.default({ type: 'machine' }),
  /**
   * TLS to the hub: a CA its certificate must chain to (added to Node's list), and a client
   * certificate with its key for mutual TLS (both or neither). Read at start. There is no way to
   * turn verification off.
   */
  tls: z
    .strictObject({
      ca_file: z.string().min(1).optional(),
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
    })
    .optional(),
  /** A k4.public PASERK: when set, the machine token's signature must verify with it. */
  token_public_key: z.string().startsWith('k4.public.', 'expected a k4.public PASERK').optional(),
  /** How often the token's source is read again to pick up a replaced token (besides file events and SIGHUP). */
  token_check_interval: duration.default(60_000),
  addressing: z.enum(['sensor_id', 'mapping_id']).default('sensor_id'),
  /** Per-request deadline (connect + headers + body). */
  timeout: duration.default(30_000),
  /** Requests in flight at once (different sensors; one sensor's readings go in order). */
  concurrency: z.number().int().min(1).max(64).default(4),
  batch: z
    .strictObject({
      max_points: z.number().int().min(1).max(100_000).default(5000),
      max_bytes: size.default(768 * 1024),
      max_wait: duration.default(2000),
      /** Spectra per request at most (spectra requests are also bounded by max_bytes). */
      max_spectra: z.number().int().min(1).max(10_000).default(100),
    })
    .prefault({}),
  /** Points (readings or spectra) per second sent at most; null = as fast as the hub allows. */
  max_rate: z.number().positive().nullable().default(null),
  /** After a 429, space requests to the rate the hub accepted, then speed up again while it accepts. */
  pace_after_throttling: z.boolean().default(true),
  /** Plan rounds (read and encode waiting rows) in a worker thread: a second V8 heap for a second core's work (docs/performance.md, "`hub.planner_thread`"). */
  planner_thread: z.boolean().default(true),
  retry: z
    .strictObject({
      initial_delay: duration.default(1000),
      max_delay: duration.default(300_000),
      /** Give up on readings older than this (reading time) while delivery fails: they move to dead letters. Unset = never. */
      max_age: duration.optional(),
      /**
       * A batch the hub fails this many times (5xx, an answer outside the contract, a timeout)
       * while it accepts other batches is split, and what still fails alone is dead-lettered.
       * An outage (the hub accepts nothing) never counts.
       */
      poison_after: z.number().int().min(2).max(1000).default(5),
    })
    .prefault({}),
  /** Bytes of a hub answer read at most; a longer answer is discarded and counts as a failure (the contract's answers are small). */
  max_response_bytes: size.default(1024 ** 2),
  /** /readyz turns false when delivery has failed without a success for longer than this. */
  unready_after: duration.default(30_000),
  /** What the hub's answers mean where hub-api.md only assumes (docs/hub-contract.md). */
  answers: z
    .strictObject({
      /** Statuses of a successful sensor creation (assumed 201; the body must carry the id). */
      sensor_created: z.array(z.number().int().min(200).max(299)).min(1).default([201]),
      /** Statuses of stored spectra (assumed 202). */
      spectra_accepted: z.array(z.number().int().min(200).max(299)).min(1).default([202]),
      /** Read a 409 on a data endpoint as "already stored" (only behind an idempotency layer that says so). */
      conflict_means_stored: z.boolean().default(false),
    })
    .prefault({}),
  /** Paths of the hub endpoints (hub-api.md: the GraphQL path is documented, the others assumed). */
  paths: z
    .strictObject({
      graphql: z.string().startsWith('/').default('/v1/graphql'),
      sensors: z.string().startsWith('/').default('/v1/hub/sensors'),
      spectra: z.string().startsWith('/').default('/v1/hub/spectra'),
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
    /** What any source accepts: name length and the time window (a source may override either under its own `input:`). */
    input: inputSettings.prefault({}),
    pipeline: z
      .strictObject({
        /** Readings per outbox transaction at most. */
        batch_size: z.number().int().min(1).max(100_000).default(10_000),
        /** How long a small batch waits for company before it is committed. */
        max_wait: duration.default(20),
      })
      .prefault({}),
    outbox: z
      .strictObject({
        /** FULL survives power loss; NORMAL (WAL) survives a process crash but may lose the last commits on power loss. */
        synchronous: z.enum(['full', 'normal']).default('full'),
        /** Size the outbox may reach (live pages; delivered rows free theirs). */
        max_bytes: size.default(1024 ** 3),
        /** At the limit: block (sources pause; sockets push back) or drop_oldest (counted and logged). */
        when_full: z.enum(['block', 'drop_oldest']).default('block'),
        /** Free space to leave on the state directory's filesystem; below it the outbox counts as full. */
        min_free_disk: size.default(256 * 1024 ** 2),
        /** SQLite's page cache of the outbox's write connection (memory, not durability: docs/performance.md "Small gateways"; the planner worker's read-only connection keeps SQLite's default 2 MiB). */
        cache_size: size.default(8000 * 1024),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(LOG_LEVELS).default('info'),
      })
      .prefault({}),
    /** A source that fails unexpectedly is restarted alone, from its committed position, with jittered backoff. */
    supervision: z
      .strictObject({
        restart_initial_delay: duration.default(1000),
        restart_max_delay: duration.default(60_000),
        /** /readyz turns false when a source has been down (failing, or restarted and failing again) this long. */
        unready_after: duration.default(30_000),
      })
      .prefault({}),
    /** How long a graceful stop may take before in-flight requests are abandoned (they stay in the outbox). */
    shutdown_timeout: duration.default(10_000),
    /** http (health and metrics), jobs (maintenance schedules), token_expiry_warning. */
    ...opsConfigShape,
  });

/**
 * Checks across fields, run on the raw (pre-validation) value so they are reported together
 * with type errors rather than only after those are fixed.
 */
export function crossChecks(raw: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  const tls = (raw as { hub?: { tls?: unknown } } | null)?.hub?.tls as { cert_file?: unknown; key_file?: unknown } | null | undefined;
  if (tls !== null && typeof tls === 'object' && (tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    const [given, missing] = tls.cert_file === undefined ? ['key_file', 'cert_file'] : ['cert_file', 'key_file'];
    out.push({ path: ['hub', 'tls', missing], message: `${given} is set without ${missing}: a client certificate needs both` });
  }
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
