/**
 * The maintenance jobs on a real outbox file: delivered rows leave free pages that the vacuum
 * job returns to the filesystem (bounded per run), the WAL checkpoint, the token-expiry warning
 * and its callback, the summary line, and isolation between jobs when one fails.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TOKEN_EXPIRY_WARNING_MS, type JobSchedules } from '../../src/config/ops-schema.js';
import { createJobs, type Jobs } from '../../src/jobs/jobs.js';
import { reclaimFreePages } from '../../src/outbox/reclaim.js';
import type { TokenCheck } from '../../src/jobs/token-check.js';
import { Outbox, OUTBOX_FILE } from '../../src/outbox/outbox.js';
import { LIVE_LANE } from '../../src/outbox/types.js';
import { readings } from '../helpers/delivery-rig.js';
import { captureLogger, fakeView } from '../helpers/ops-fake-view.js';
import { tempDir } from '../helpers/tmp.js';
import { sqlOf } from '../helpers/outbox-sql.js';

const MANUAL: JobSchedules = { vacuum: null, wal_checkpoint: null, token_check: null, summary: null };
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 27, 9);

const open: Array<{ outbox: Outbox; jobs: Jobs }> = [];
afterEach(async () => {
  for (const { outbox, jobs } of open.splice(0)) {
    await jobs.stop(1000);
    if (outbox.isOpen) outbox.close();
  }
});

/** An outbox that held `n` readings, all delivered (claimed and acknowledged, as the shipper does). */
function deliveredOutbox(n: number): { outbox: Outbox; file: string } {
  const dir = tempDir();
  const outbox = Outbox.inStateDir(dir, { synchronous: 'normal' });
  for (let from = 0; from < n; from += 10_000) outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(10_000, ['a', 'b', 'c'], from), deadLetters: [] }]);
  for (;;) {
    const claimed = outbox.readWaiting(LIVE_LANE, 10_000);
    if (claimed.length === 0) break;
    outbox.ack(claimed.map((r) => r.id));
  }
  sqlOf(outbox).pragma('wal_checkpoint(TRUNCATE)');
  return { outbox, file: path.join(dir, OUTBOX_FILE) };
}

function setup(options: { n?: number; onTokenCheck?: (c: TokenCheck) => void } = {}) {
  const { outbox, file } = deliveredOutbox(options.n ?? 0);
  const view = fakeView();
  const { logger, lines } = captureLogger();
  const jobs = createJobs({
    schedules: MANUAL,
    outbox,
    view,
    logger,
    tokenExpiryWarningMs: DEFAULT_TOKEN_EXPIRY_WARNING_MS,
    onTokenCheck: options.onTokenCheck,
    reclaim: { slackPages: 16, chunkPages: 256 },
    now: () => NOW,
  });
  open.push({ outbox, jobs });
  return { outbox, file, view, jobs, lines };
}

describe('maintenance jobs', () => {
  it('vacuum returns the pages of delivered rows to the filesystem, keeping a little slack', async () => {
    const { outbox, file, jobs, lines } = setup({ n: 60_000 });
    const freeBefore = sqlOf(outbox).pragma('freelist_count', { simple: true }) as number;
    const sizeBefore = statSync(file).size;
    expect(freeBefore).toBeGreaterThan(200);
    const outcome = await jobs.runNow('vacuum');
    expect(outcome).toMatchObject({ status: 'ok', fields: { free_pages: 16 } });
    expect(sqlOf(outbox).pragma('freelist_count', { simple: true })).toBe(16);
    expect(statSync(file).size).toBeLessThan(sizeBefore - (freeBefore - 16) * 4096 * 0.9);
    expect(lines.find((l) => l.event === 'outbox_space_reclaimed')).toMatchObject({ free_pages_before: freeBefore, free_pages_after: 16 });
    // Nothing left to do: a second run reclaims nothing and says nothing.
    await expect(jobs.runNow('vacuum')).resolves.toMatchObject({ status: 'ok', fields: { reclaimed_bytes: 0 } });
    expect(lines.filter((l) => l.event === 'outbox_space_reclaimed')).toHaveLength(1);
  });

  it('reclaims at most maxPagesPerRun per run, yielding between chunks', async () => {
    const { outbox } = deliveredOutbox(40_000);
    const before = sqlOf(outbox).pragma('freelist_count', { simple: true }) as number;
    let pauses = 0;
    const r = await reclaimFreePages(sqlOf(outbox), { slackPages: 0, chunkPages: 10, maxPagesPerRun: 50, pause: async () => void pauses++ });
    expect(r.freePagesBefore).toBe(before);
    expect(r.freePagesAfter).toBe(before - 50);
    expect(r.reclaimedBytes).toBe(50 * r.pageSize);
    expect(pauses).toBe(4);
    outbox.close();
  });

  it('checkpoints the WAL', async () => {
    const { outbox, jobs } = setup();
    outbox.append([{ source: 'test', lane: LIVE_LANE, readings: readings(100), deadLetters: [] }]);
    const outcome = await jobs.runNow('wal_checkpoint');
    expect(outcome).toMatchObject({ status: 'ok', fields: { busy: 0 } });
    if (outcome.status !== 'ok') throw new Error('unreachable');
    const fields = outcome.fields as { wal_frames: number; checkpointed_frames: number };
    expect(fields.wal_frames).toBeGreaterThan(0);
    expect(fields.checkpointed_frames).toBe(fields.wal_frames);
  });

  it('warns when the token expires within token_expiry_warning, and hands every result to the callback', async () => {
    const checks: TokenCheck[] = [];
    const { view, jobs, lines } = setup({ onTokenCheck: (c) => void checks.push(c) });
    view.state.token = { fingerprint: 'abcd1234', kind: 'v4.public', expiresAt: new Date(NOW + 30 * DAY), permissions: null };
    await jobs.runNow('token_check');
    expect(lines.some((l) => String(l.event).startsWith('token_'))).toBe(false);

    view.state.token = { ...view.state.token, expiresAt: new Date(NOW + 3 * DAY) };
    await jobs.runNow('token_check');
    const warning = lines.find((l) => l.event === 'token_expiring')!;
    expect(warning).toMatchObject({ level: 40, state: 'expiring', expires_at: new Date(NOW + 3 * DAY).toISOString(), remaining_ms: 3 * DAY });
    expect(warning.msg).toMatch(/^the machine token abcd1234 expires in 3d \(2026-11-30T09:00:00.000Z\): ask Senseye support/);

    view.state.token = { ...view.state.token, expiresAt: new Date(NOW - 1000) };
    await jobs.runNow('token_check');
    expect(lines.find((l) => l.event === 'token_expired')).toMatchObject({ level: 50 });

    view.state.token = { ...view.state.token, expiresAt: null };
    await jobs.runNow('token_check');
    expect(checks.map((c) => c.state)).toEqual(['ok', 'expiring', 'expired', 'no_expiry']);
  });

  it('logs a summary of the period from the view', async () => {
    const { view, jobs, lines } = setup();
    view.state.oldestTs = NOW - 4000;
    jobs.start();
    view.state.sources = [
      { source: 'press-line', received: 1120, invalid: 5 },
      { source: 'pump-7', received: 40, invalid: 0 },
      { source: 'new-line', received: 7, invalid: 0 },
    ];
    view.state.counts = { ...view.state.counts, delivered: 1100, depth: 50 };
    view.state.hubRequests = new Map([
      ['200', 40],
      ['429', 2],
    ]);
    await jobs.runNow('summary');
    const line = lines.find((l) => l.event === 'summary')!;
    expect(line).toMatchObject({
      level: 30,
      received: 1007,
      invalid: 2,
      delivered: 950,
      hub_requests: { '200': 10 },
      sources: { 'press-line': { received: 1000, invalid: 2 }, 'pump-7': { received: 0, invalid: 0 }, 'new-line': { received: 7, invalid: 0 } },
      outbox: { readings: 50, oldest_age_ms: 4000 },
      delivery: 'flowing',
    });
    expect(line.msg).toBe('last 0ms: 1007 readings received (2 invalid), 950 delivered; 50 waiting (oldest 4s old); delivery flowing');
  });

  it('isolates jobs: when the view fails, the database jobs still run; a closed database is skipped', async () => {
    const { outbox, view, jobs, lines } = setup({ n: 20_000 });
    view.throwing.add('token');
    view.throwing.add('sourceCounters');
    const outcomes = Object.fromEntries(await Promise.all(jobs.names.map(async (name) => [name, (await jobs.runNow(name)).status] as const)));
    expect(outcomes).toEqual({ vacuum: 'ok', wal_checkpoint: 'ok', token_check: 'failed', summary: 'failed' });
    expect(lines.filter((l) => l.event === 'job_failed').map((l) => l.job).sort()).toEqual(['summary', 'token_check']);

    outbox.close();
    await expect(jobs.runNow('vacuum')).resolves.toMatchObject({ status: 'ok', fields: { skipped: 'database closed' } });
    await expect(jobs.runNow('wal_checkpoint')).resolves.toMatchObject({ status: 'ok', fields: { skipped: 'database closed' } });
  });
});
