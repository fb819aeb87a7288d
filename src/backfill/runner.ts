/**
 * Runs one backfill job: its files are read through the same sources, parsers, validation and
 * outbox as live data, into the job's own lane, and delivered by a shipper of that lane with
 * the same engine. Live data keeps its own lane and shipper (the daemon's), so it never waits
 * behind a backfill's backlog. The run ends when everything read was accepted by the hub, or
 * stops early (signal, hub unreachable past the timeout, delivery paused) keeping all data.
 */
import type { Logger } from 'pino';
import type { CredentialProvider } from '../auth/credentials.js';
import type { Config } from '../config/schema.js';
import { Engine } from '../daemon/engine.js';
import { readHubTls, type HubTlsMaterial } from '../net/tls.js';
import { describeState } from '../hub/delivery-state.js';
import { openOutboxChecked } from '../outbox/integrity.js';
import type { Outbox } from '../outbox/outbox.js';
import { sensorIdsOf } from '../sources/parser-options.js';
import { createSource } from '../sources/registry.js';
import type { Source } from '../sources/source.js';
import type { InputFile } from './inputs.js';
import { takeJob, finishJob, heartbeat, releaseJob, type BackfillJob, type BackfillJobArgs } from '../outbox/backfill-jobs.js';
import type { ProgressReporter } from './progress.js';
import { backfillSources } from './source-configs.js';
import { windowFilter, type TimeWindow } from './time-window.js';

export interface BackfillOptions {
  config: Config;
  files: InputFile[];
  sensor: string | null;
  /** Format settings (timezone, CSV layout, …) of this configured source, if given. */
  sourceSettings: Record<string, unknown>;
  window: TimeWindow;
  maxRate: number | null;
  /** Give up (exit 75) when delivery has not made progress for this long. */
  timeoutMs: number;
  credentials: CredentialProvider;
  logger: Logger;
  progress: ProgressReporter;
  version: string;
  /** Resolves when the run should stop early (a signal). */
  interrupted: Promise<void>;
}

export type BackfillOutcome = 'delivered' | 'nothing_new' | 'stopped' | 'timed_out' | 'paused' | 'failed';

export interface BackfillResult {
  outcome: BackfillOutcome;
  lane: number;
  resumed: boolean;
  files: number;
  read: number;
  delivered: number;
  rejected: number;
  invalid: number;
  filtered: number;
  waiting: number;
  elapsedMs: number;
  reasons: Array<{ reason: string; count: number; example: string }>;
  stoppedBecause: string | null;
}

const TICK_MS = 250;

export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const started = Date.now();
  const { config, logger } = o;
  const tls = readHubTls(config.hub.tls); // before anything is opened: it may throw HubTlsError
  const outbox = openBackfillOutbox(config, logger);
  const args: BackfillJobArgs = { files: o.files.map((f) => f.path), format: null, sensor: o.sensor, from: o.window.from, to: o.window.to };
  args.format = [...new Set(o.files.map((f) => f.format))].sort().join(',');
  let job: BackfillJob | null = null;
  try {
    job = takeJob(outbox, args);
    return await deliverJob(o, outbox, job, started, tls);
  } finally {
    // Whatever happened (a throw included), the job is let go and the outbox closed.
    if (job !== null && outbox.isOpen) {
      try {
        releaseJob(outbox, job);
      } catch (err) {
        logger.warn({ event: 'backfill_release_failed', err: (err as Error).message }, 'the backfill job could not be released; the next run takes it over once this process is gone');
      }
    }
    if (outbox.isOpen) outbox.close();
  }
}

/**
 * The outbox, checked as the daemon checks it (a damaged file is moved aside) when no daemon
 * holds it. The clean-stop mark is the daemon's: a backfill never sets it.
 */
function openBackfillOutbox(config: Config, logger: Logger): Outbox {
  return openOutboxChecked(config.state_dir, { synchronous: config.outbox.synchronous, cacheBytes: config.outbox.cache_size }, logger.child({ component: 'outbox' }), { owner: false }).outbox;
}

async function deliverJob(o: BackfillOptions, outbox: Outbox, job: BackfillJob, started: number, tls: HubTlsMaterial | undefined): Promise<BackfillResult> {
  const { config, logger } = o;
  const before = outbox.laneCounts(job.lane);
  const configs = backfillSources(o.files, job.lane, o.sensor, o.sourceSettings);
  const sourceNames = configs.map((c) => c.name);
  const sources: Source[] = configs.map((cfg) =>
    createSource(cfg, { lane: job.lane, checkpoints: outbox.checkpoints(cfg.name), logger, sensorIds: sensorIdsOf(config.sensors) }),
  );
  let filtered = 0;
  let fatal: string | null = null;
  const engine = new Engine({
    config,
    outbox,
    lane: job.lane,
    sources,
    credentials: o.credentials,
    logger,
    userAgent: `senseye-agent/${o.version} backfill`,
    tls,
    onFatal: (reason) => (fatal ??= reason),
    whenFull: 'block', // a backfill never drops: it can always be run again later
    transform: windowFilter(o.window, (n) => (filtered += n)),
    delivery: { maxWaitMs: 0, maxRate: o.maxRate ?? config.hub.max_rate, idlePollMs: 100 },
  });
  const { shipper, pipeline } = engine;
  shipper.setFlushNow(true);
  engine.start();

  let outcome: BackfillOutcome | null = null;
  let stoppedBecause: string | null = null;
  let interrupted = false;
  void o.interrupted.then(() => (interrupted = true));
  let lastProgressAt = Date.now();
  let lastDelivered = 0;
  let lastBeat = Date.now();
  let finishing = false;
  const totalBytes = o.files.reduce((n, f) => n + f.bytes, 0);
  try {
    while (outcome === null) {
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
      const lane = outbox.laneCounts(job.lane);
      const deliveredNow = lane.delivered - before.delivered;
      const state = shipper.state;
      const read = committedBytes(outbox, sourceNames, o.files);
      o.progress.update({
        filesDone: read.filesDone,
        filesTotal: o.files.length,
        bytesRead: read.bytes,
        bytesTotal: totalBytes,
        queued: lane.waiting,
        delivered: deliveredNow,
        pause: 'until' in state && state.until > Date.now() ? `${state.state} ${Math.ceil((state.until - Date.now()) / 1000)}s` : '',
      });
      if (deliveredNow !== lastDelivered || state.state === 'flowing' || state.state === 'idle') {
        lastDelivered = deliveredNow;
        lastProgressAt = Date.now();
      }
      if (Date.now() - lastBeat > 5000) {
        heartbeat(outbox, job);
        lastBeat = Date.now();
      }
      if (fatal !== null) {
        outcome = 'failed';
        stoppedBecause = fatal;
      } else if (interrupted) {
        outcome = 'stopped';
        stoppedBecause = 'interrupted';
      } else if (Date.now() - lastProgressAt > o.timeoutMs) {
        outcome = state.state === 'paused' ? 'paused' : 'timed_out';
        stoppedBecause = describeState(state);
      } else if (pipeline.isCaughtUp() && !finishing) {
        // Every file read to its end: finish the sources (last unterminated lines) once.
        finishing = true;
        await Promise.all(sources.map((s) => s.finish?.() ?? s.drain()));
      } else if (finishing && pipeline.isCaughtUp() && lane.waiting === 0 && outbox.ledger.list(job.lane).length === 0) {
        outcome = lane.appended === before.appended && job.finishedAt !== null ? 'nothing_new' : 'delivered';
      }
    }
  } finally {
    o.progress.stop();
    // One deadline for the whole stop, as the daemon's.
    await engine.stop(config.shutdown_timeout);
  }
  const lane = outbox.laneCounts(job.lane);
  if (outcome === 'delivered' || outcome === 'nothing_new') finishJob(outbox, job);
  const invalidRows = outbox.deadLetters.list({ sourcePrefix: `backfill-${job.lane}-`, since: started });
  const hubRows = [...outbox.deadLetters.list({ stage: 'hub', lane: job.lane, since: started }), ...outbox.deadLetters.list({ stage: 'expired', lane: job.lane, since: started })];
  const reasons = summarizeReasons(
    [...invalidRows, ...hubRows].map((d) => ({
      reason: d.reason,
      where: d.stage !== 'parse' ? `${d.sensor}/${d.measure} @ ${d.ts === null ? '?' : new Date(d.ts).toISOString()}` : `${d.origin ?? d.source}${d.line === null ? '' : `:${d.line}`}`,
    })),
  );
  return {
    outcome,
    lane: job.lane,
    resumed: !job.isNew,
    files: o.files.length,
    read: lane.appended - before.appended,
    delivered: lane.delivered - before.delivered,
    rejected: lane.rejected - before.rejected,
    invalid: invalidRows.length,
    filtered,
    waiting: lane.waiting,
    elapsedMs: Date.now() - started,
    reasons,
    stoppedBecause,
  };
}

/** Progress as committed: bytes of each file whose position is durable, and files read to their end. */
function committedBytes(outbox: Outbox, sources: string[], files: InputFile[]): { bytes: number; filesDone: number } {
  const size = new Map(files.map((f) => [f.path, f.bytes]));
  let bytes = 0;
  let filesDone = 0;
  for (const source of sources) {
    for (const c of outbox.checkpoints(source)) {
      const total = size.get(c.path);
      if (total === undefined) continue;
      bytes += Math.min(c.offset, total);
      if (c.offset >= total) filesDone++;
    }
  }
  return { bytes, filesDone };
}

function summarizeReasons(rows: Array<{ reason: string; where: string }>): BackfillResult['reasons'] {
  const byReason = new Map<string, { count: number; example: string }>();
  for (const r of rows) {
    const entry = byReason.get(r.reason);
    if (entry) entry.count++;
    else byReason.set(r.reason, { count: 1, example: r.where });
  }
  return [...byReason.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .slice(0, 5)
    .map(([reason, v]) => ({ reason, ...v }));
}
