/**
 * Settings for running the agent as a service: the health/metrics endpoint, the maintenance
 * jobs' schedules and the token-expiry warning, plus the places an install puts things. Every
 * default lives here once; the systemd unit, the Dockerfile and the docs are checked against
 * these constants by tests (test/unit/ops-*.test.ts, test/integration/container-*.test.ts), so a
 * path or port cannot drift between code and packaging.
 *
 * Merged into the main schema by spreading `opsConfigShape` into its strictObject; every key has
 * a default, so existing config files stay valid.
 */
import cron from 'node-cron';
import { z } from 'zod';
import { parseListen } from './listen-address.js';
import { duration } from './primitives.js';

/** Where the health and metrics endpoint listens unless `http.listen` says otherwise (9464: the Prometheus exporter port range). */
export const DEFAULT_HTTP_LISTEN = '127.0.0.1:9464';

/** Where a package install (systemd) and the container image put things. */
export const INSTALL_PATHS = {
  configDir: '/etc/senseye-agent',
  configFile: '/etc/senseye-agent/config.yaml',
  /** Read by systemd's LoadCredential= (never by the agent directly under systemd). */
  tokenFile: '/etc/senseye-agent/token',
  stateDir: '/var/lib/senseye-agent',
  /** Installed by `npm install -g` with the default prefix /usr/local. */
  executable: '/usr/local/bin/senseye-agent',
} as const;

/**
 * Cron expressions (node-cron: 5 fields, or 6 with seconds first), local time. Staggered so two
 * jobs rarely fall on the same minute; each is cheap and bounded anyway.
 */
export const DEFAULT_JOB_SCHEDULES = {
  /** Return free pages of the outbox file to the filesystem (bounded per run). */
  vacuum: '*/10 * * * *',
  /** Fold the WAL into the database (PASSIVE: never waits for readers). */
  wal_checkpoint: '*/5 * * * *',
  /** Warn when the machine token expires within token_expiry_warning. */
  token_check: '0 9 * * *',
  /** One log line with the last hour's counts. */
  summary: '0 * * * *',
} as const;

export type JobName = keyof typeof DEFAULT_JOB_SCHEDULES;
export const JOB_NAMES = Object.keys(DEFAULT_JOB_SCHEDULES) as JobName[];

export const DEFAULT_TOKEN_EXPIRY_WARNING_MS = 7 * 86_400_000;

/** The shortest warning window accepted: a bare number is milliseconds, so `7` meant as days is caught here. */
const MIN_TOKEN_EXPIRY_WARNING_MS = 3_600_000;

const listen = z
  .string()
  .nullable()
  .superRefine((value, ctx) => {
    if (value === null) return;
    const parsed = parseListen(value);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  });

export const httpSchema = z
  .strictObject({
    /** host:port of /healthz, /readyz and /metrics; null turns the endpoint off. */
    listen: listen.default(DEFAULT_HTTP_LISTEN),
  })
  .prefault({});

/** A cron expression, or null to turn the job off. */
export const cronSchedule = z
  .string()
  .nullable()
  .superRefine((value, ctx) => {
    if (value === null) return;
    if (!cron.validate(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a cron expression like "*/5 * * * *" (minute hour day month weekday, optional seconds first), found "${value}"`,
      });
    }
  });

export const jobsSchema = z
  .strictObject({
    vacuum: cronSchedule.default(DEFAULT_JOB_SCHEDULES.vacuum),
    wal_checkpoint: cronSchedule.default(DEFAULT_JOB_SCHEDULES.wal_checkpoint),
    token_check: cronSchedule.default(DEFAULT_JOB_SCHEDULES.token_check),
    summary: cronSchedule.default(DEFAULT_JOB_SCHEDULES.summary),
  })
  .prefault({});

export const tokenExpiryWarningSchema = duration
  .refine((ms) => ms >= MIN_TOKEN_EXPIRY_WARNING_MS, {
    message: 'expected a duration of at least 1h, like 7d or 36h (a bare number means milliseconds)',
  })
  .default(DEFAULT_TOKEN_EXPIRY_WARNING_MS);

/** Spread into the main schema: `z.strictObject({ ...existingKeys, ...opsConfigShape })`. */
export const opsConfigShape = {
  http: httpSchema,
  jobs: jobsSchema,
  token_expiry_warning: tokenExpiryWarningSchema,
};

export const opsConfigSchema = z.strictObject(opsConfigShape);
export type OpsConfig = z.output<typeof opsConfigSchema>;
export type JobSchedules = OpsConfig['jobs'];
