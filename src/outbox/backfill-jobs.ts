/**
 * A backfill job (one lane of the outbox: not a batch to send, nor a maintenance job) is
 * identified by what it reads (files, format, sensor, time window), so the same command run
 * again is the same job: it gets the same outbox lane, resumes from that lane's file positions,
 * and sends nothing twice. A heartbeat keeps two processes from running
 * one job at once (the second would double its reading).
 */
import { createHash } from 'node:crypto';
import type { Outbox } from './outbox.js';
import { isAlive } from './liveness.js';
import { databaseOf } from './handle.js';

export interface BackfillJobArgs {
  files: string[];
  format: string | null;
  sensor: string | null;
  from: number | null;
  to: number | null;
}

export interface BackfillJob {
  lane: number;
  key: string;
  createdAt: number;
  finishedAt: number | null;
  /** True when this run created the job (a first run, not a resume). */
  isNew: boolean;
}

/** A heartbeat older than this means the process that held the job is gone. */
const STALE_MS = 15_000;

export class JobBusyError extends Error {
  readonly code = 'SENSEYE_BACKFILL_BUSY';
}

export function jobKey(args: BackfillJobArgs): string {
  const normalized = { ...args, files: [...args.files].sort() };
  return createHash('sha256').update(JSON.stringify(normalized)).digest('hex').slice(0, 32);
}

/** Finds or creates the job for these arguments and takes it for this process. */
export function takeJob(outbox: Outbox, args: BackfillJobArgs, now = Date.now()): BackfillJob {
  const key = jobKey(args);
  return databaseOf(outbox).transaction(() => {
    const row = databaseOf(outbox).prepare('SELECT lane, created_at, finished_at, pid, heartbeat FROM backfill_jobs WHERE job_key = ?').get(key) as
      | { lane: number; created_at: number; finished_at: number | null; pid: number | null; heartbeat: number | null }
      | undefined;
    if (row !== undefined) {
      if (row.pid !== null && row.pid !== process.pid && row.heartbeat !== null && now - row.heartbeat < STALE_MS && isAlive(row.pid)) {
        throw new JobBusyError(`the same backfill is already running (pid ${row.pid}); wait for it or stop it first`);
      }
      databaseOf(outbox).prepare('UPDATE backfill_jobs SET pid = ?, heartbeat = ? WHERE lane = ?').run(process.pid, now, row.lane);
      return { lane: row.lane, key, createdAt: row.created_at, finishedAt: row.finished_at, isNew: false };
    }
    const lane = ((databaseOf(outbox).prepare('SELECT max(lane) FROM backfill_jobs').pluck().get() as number | null) ?? 0) + 1;
    databaseOf(outbox)
      .prepare('INSERT INTO backfill_jobs (lane, job_key, args, created_at, pid, heartbeat) VALUES (?, ?, ?, ?, ?, ?)')
      .run(lane, key, JSON.stringify(args), now, process.pid, now);
    return { lane, key, createdAt: now, finishedAt: null, isNew: true };
  }).immediate();
}

export function heartbeat(outbox: Outbox, job: BackfillJob): void {
  databaseOf(outbox).prepare('UPDATE backfill_jobs SET heartbeat = ? WHERE lane = ?').run(Date.now(), job.lane);
}

export function finishJob(outbox: Outbox, job: BackfillJob): void {
  databaseOf(outbox).prepare('UPDATE backfill_jobs SET finished_at = ?, pid = NULL, heartbeat = NULL WHERE lane = ?').run(Date.now(), job.lane);
}

export function releaseJob(outbox: Outbox, job: BackfillJob): void {
  databaseOf(outbox).prepare('UPDATE backfill_jobs SET pid = NULL, heartbeat = NULL WHERE lane = ?').run(job.lane);
}
