/**
 * The job scheduler on node-cron's real scheduling path, driven by virtual time: a job that
 * throws does not stop the others (or its own next run), a slow job is never started twice,
 * and stop() is final, idempotent and bounded.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JobScheduler } from '../../src/jobs/scheduler.js';
import { captureLogger } from '../helpers/ops-fake-view.js';

const EVERY_SECOND = '* * * * * *';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('job scheduler', () => {
  let scheduler: JobScheduler | null = null;
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date(Date.UTC(2026, 10, 27, 8, 0, 0, 500)) });
  });
  afterEach(async () => {
    await scheduler?.stop(100);
    scheduler = null;
    vi.useRealTimers();
  });

  it('keeps running the other jobs, and the failing one at its next time, when a job throws or rejects', async () => {
    const { logger, lines } = captureLogger();
    const runs = { good: 0, throws: 0, rejects: 0 };
    scheduler = new JobScheduler(
      [
        { name: 'throws', schedule: EVERY_SECOND, run: () => void (runs.throws++, JSON.parse('{')) },
        { name: 'rejects', schedule: EVERY_SECOND, run: async () => void (runs.rejects++, await Promise.reject(new Error('disk on fire'))) },
        { name: 'good', schedule: EVERY_SECOND, run: () => void runs.good++ },
      ],
      { logger },
    );
    scheduler.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(runs).toEqual({ good: 3, throws: 3, rejects: 3 });
    const failed = lines.filter((l) => l.event === 'job_failed');
    expect(failed.filter((l) => l.job === 'throws')).toHaveLength(3);
    expect(failed.filter((l) => l.job === 'rejects').map((l) => l.err)).toEqual(['disk on fire', 'disk on fire', 'disk on fire']);
    expect(failed.some((l) => l.job === 'good')).toBe(false);

    // The same through runNow: outcomes, not exceptions.
    await expect(scheduler.runNow('throws')).resolves.toMatchObject({ status: 'failed', error: expect.stringMatching(/JSON/) });
    await expect(scheduler.runNow('good')).resolves.toMatchObject({ status: 'ok' });
  });

  it('never starts a slow job again while it runs, on schedule or on demand', async () => {
    const { logger, lines } = captureLogger();
    const gate = deferred();
    let started = 0;
    scheduler = new JobScheduler([{ name: 'slow', schedule: EVERY_SECOND, run: async () => void (started++, await gate.promise) }], { logger });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(1);
    expect(scheduler.isRunning('slow')).toBe(true);
    await vi.advanceTimersByTimeAsync(4000); // four more ticks while it runs
    expect(started).toBe(1);
    await expect(scheduler.runNow('slow')).resolves.toEqual({ status: 'skipped', reason: 'already running' });
    expect(started).toBe(1);
    expect(lines.some((l) => l.event === 'job_overlap_skipped')).toBe(true);

    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.isRunning('slow')).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(2);
  });

  it('runs a job without a schedule only when asked', async () => {
    const { logger } = captureLogger();
    let runs = 0;
    scheduler = new JobScheduler([{ name: 'manual', schedule: null, run: () => ({ runs: ++runs }) }], { logger });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(0);
    await expect(scheduler.runNow('manual')).resolves.toMatchObject({ status: 'ok', fields: { runs: 1 } });
    expect(() => scheduler!.runNow('nope' as never)).toThrow(/no job named "nope"/);
  });

  it('stops for good: no more runs, runNow says so, stop() is idempotent and waits (bounded) for a run in progress', async () => {
    const { logger, lines } = captureLogger();
    let runs = 0;
    const gate = deferred();
    scheduler = new JobScheduler(
      [
        { name: 'tick', schedule: EVERY_SECOND, run: () => void runs++ },
        { name: 'stuck', schedule: null, run: () => gate.promise },
      ],
      { logger },
    );
    scheduler.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(runs).toBe(2);
    void scheduler.runNow('stuck');
    const stopped = scheduler.stop(3000);
    expect(scheduler.stop()).toBe(stopped);
    await vi.advanceTimersByTimeAsync(3000);
    await stopped;
    expect(lines.find((l) => l.event === 'jobs_stop_timeout')).toMatchObject({ jobs: ['stuck'] });
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(2);
    await expect(scheduler.runNow('tick')).resolves.toEqual({ status: 'skipped', reason: 'stopped' });
    gate.resolve();
  });

  it('refuses two jobs with one name', () => {
    const { logger } = captureLogger();
    expect(() => new JobScheduler([{ name: 'a', schedule: null, run: () => undefined }, { name: 'a', schedule: null, run: () => undefined }], { logger })).toThrow(
      /defined twice/,
    );
  });
});
