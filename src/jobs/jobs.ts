/**
 * The agent's maintenance jobs, wired to their schedules (`jobs.*` in the config):
 *   vacuum          return free outbox pages to the filesystem (reclaim.ts);
 *   wal_checkpoint  fold the WAL into the database (PASSIVE);
 *   token_check     warn when the token expires within token_expiry_warning, then the caller's callback;
 *   summary         one log line with the period's counts (summary.ts).
 * Each job is isolated and never overlaps itself (scheduler.ts). The database jobs use the
 * agent's own connection (better-sqlite3 is synchronous, so they run between the agent's
 * statements, never inside its transactions) and do nothing once it is closed.
 */
import type { Outbox } from '../outbox/outbox.js';
import type { Logger } from 'pino';
import type { JobName, JobSchedules } from '../config/ops-schema.js';
import type { AgentView } from '../daemon/agent-view.js';
import { checkpointOutbox, reclaimOutbox, type ReclaimOptions } from '../outbox/reclaim.js';
import { JobScheduler, type JobDefinition, type JobOutcome } from './scheduler.js';
import { SummaryTracker } from './summary.js';
import { checkToken, describeTokenCheck, type TokenCheck } from './token-check.js';

export interface JobsOptions {
  schedules: JobSchedules;
  /** The agent's outbox (its maintenance runs inside src/outbox: reclaim.ts). */
  outbox: Outbox;
  view: AgentView;
  logger: Logger;
  /** token_expiry_warning from the config, in ms. */
  tokenExpiryWarningMs: number;
  /** Called after every token check with its result (e.g. to reload the token file, or to raise an alert). */
  onTokenCheck?: (check: TokenCheck) => void | Promise<void>;
  reclaim?: ReclaimOptions;
  timezone?: string | undefined;
  now?: () => number;
}

export interface Jobs {
  readonly names: JobName[];
  start(): void;
  /** Idempotent; waits up to timeoutMs (default 5 s) for a job in progress. */
  stop(timeoutMs?: number): Promise<void>;
  runNow(name: JobName): Promise<JobOutcome>;
}

export function createJobs(options: JobsOptions): Jobs {
  const { outbox, view, schedules } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: 'jobs' });
  const summary = new SummaryTracker(view, now);
  const dbClosed = { skipped: 'database closed' };

  const definitions: Record<JobName, JobDefinition> = {
    vacuum: {
      name: 'vacuum',
      schedule: schedules.vacuum,
      run: async () => {
        if (!outbox.isOpen) return dbClosed;
        const r = await reclaimOutbox(outbox, options.reclaim);
        if (r.reclaimedBytes > 0) {
          log.info(
            { event: 'outbox_space_reclaimed', bytes: r.reclaimedBytes, free_pages_before: r.freePagesBefore, free_pages_after: r.freePagesAfter },
            `outbox file shrunk by ${(r.reclaimedBytes / 1024 / 1024).toFixed(1)} MiB`,
          );
        }
        return { reclaimed_bytes: r.reclaimedBytes, free_pages: r.freePagesAfter };
      },
    },
    wal_checkpoint: {
      name: 'wal_checkpoint',
      schedule: schedules.wal_checkpoint,
      run: () => {
        if (!outbox.isOpen) return dbClosed;
        const r = checkpointOutbox(outbox);
        return { wal_frames: r.walFrames, checkpointed_frames: r.checkpointedFrames, busy: r.busy };
      },
    },
    token_check: {
      name: 'token_check',
      schedule: schedules.token_check,
      run: async () => {
        const check = checkToken(view, options.tokenExpiryWarningMs, now());
        const text = describeTokenCheck(check);
        const fields = {
          state: check.state,
          ...('expiresAt' in check ? { expires_at: check.expiresAt.toISOString(), remaining_ms: check.remainingMs } : {}),
        };
        if (check.state === 'expiring') log.warn({ event: 'token_expiring', ...fields }, text!);
        else if (check.state === 'expired' || check.state === 'missing') log.error({ event: `token_${check.state}`, ...fields }, text!);
        await options.onTokenCheck?.(check);
        return fields;
      },
    },
    summary: {
      name: 'summary',
      schedule: schedules.summary,
      run: () => {
        const s = summary.next();
        log.info(s.fields, s.message);
      },
    },
  };

  const scheduler = new JobScheduler(Object.values(definitions), { logger: options.logger, timezone: options.timezone });
  return {
    names: Object.keys(definitions) as JobName[],
    start() {
      try {
        summary.begin();
      } catch (err) {
        log.warn({ event: 'summary_baseline_failed', err: err instanceof Error ? err.message : String(err) }, 'the first summary will count from zero');
      }
      scheduler.start();
    },
    stop: (timeoutMs) => scheduler.stop(timeoutMs),
    runNow: (name) => scheduler.runNow(name),
  };
}
