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
import { HubClient } from '../hub/client.js';
import { readHubTls } from '../hub/tls.js';
import { describeState } from '../hub/delivery-state.js';
import { SensorDirectory } from '../hub/sensors.js';
import { Shipper } from '../hub/shipper.js';
import { CapacityGuard } from '../outbox/capacity.js';
import { Outbox } from '../outbox/outbox.js';
import { IngestPipeline } from '../pipeline/pipeline.js';
import { OutboxWriter } from '../pipeline/writer.js';
import { sensorIdsOf } from '../sources/parser-options.js';
import { createSource } from '../sources/registry.js';
import type { Source } from '../sources/source.js';
import type { InputFile } from './inputs.js';
import { claimJob, finishJob, heartbeat, releaseJob, type Job, type JobArgs } from './job.js';
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

export type BackfillOutcome = 'delivered' | 'nothing_new' | 'stopped' | 'timed_out' | 'paused';

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
  const outbox = Outbox.inStateDir(config.state_dir, { synchronous: config.outbox.synchronous });
  const args: JobArgs = { files: o.files.map((f) => f.path), format: null, sensor: o.sensor, from: o.window.from, to: o.window.to };
  args.format = [...new Set(o.files.map((f) => f.format))].sort().join(',');
  let job: Job;
  try {
    job = claimJob(outbox, args);
  } catch (err) {
    outbox.db.close();
    throw err;
  }
  const before = outbox.laneCounts(job.lane);
  const configs = backfillSources(o.files, job.lane, o.sensor, o.sourceSettings);
  const sourceNames = configs.map((c) => c.name);
  const sources: Source[] = configs.map((cfg) =>
    createSource(cfg, { lane: job.lane, checkpoints: outbox.checkpoints(cfg.name), logger, sensorIds: sensorIdsOf(config.sensors) }),
  );
  let filtered = 0;
  const writer = new OutboxWriter(outbox, logger, {
    guard: new CapacityGuard(outbox.db, config.state_dir, { maxBytes: config.outbox.max_bytes, minFreeDiskBytes: config.outbox.min_free_disk }),
    whenFull: 'block', // a backfill never drops: it can always be run again later
  });
  const pipeline = new IngestPipeline({
    sources,
    writer,
    batchSize: config.pipeline.batch_size,
    maxWaitMs: config.pipeline.max_wait,
    logger,
    transform: windowFilter(o.window, (n) => (filtered += n)),
  });
  const client = new HubClient({
    url: config.hub.url,
    token: () => o.credentials.current(),
    timeoutMs: config.hub.timeout,
    paths: config.hub.paths,
    connections: config.hub.concurrency + 1,
    tls,
    userAgent: `senseye-agent/${o.version} backfill`,
  });
  const shipper = new Shipper({
    outbox,
    client,
    sensors: new SensorDirectory({ addressing: config.hub.addressing, overrides: config.sensors, outbox, client, logger }),
    token: () => o.credentials.current(),
    tokenMissing: () => o.credentials.problem(),
    onUnauthorized: () => o.credentials.rejected(),
    lane: job.lane,
    logger,
    maxPoints: config.hub.batch.max_points,
    maxBytes: config.hub.batch.max_bytes,
    maxSpectra: config.hub.batch.max_spectra,
    maxWaitMs: 0,
    concurrency: config.hub.concurrency,
    maxRate: o.maxRate ?? config.hub.max_rate,
    paceAfterThrottling: config.hub.pace_after_throttling,
    planInWorker: true,
    synchronous: config.outbox.synchronous,
    retry: { initialDelayMs: config.hub.retry.initial_delay, maxDelayMs: config.hub.retry.max_delay },
    idlePollMs: 100,
  });
  o.credentials.onChange(() => shipper.retryNow());
  writer.onCommitted = () => shipper.notify();
  shipper.setFlushNow(true);
  o.credentials.start();
  pipeline.start();
  shipper.start();

  let outcome: BackfillOutcome | null = null;
  let stoppedBecause: string | null = null;
  let interrupted = false;
  void o.interrupted.then(() => (interrupted = true));
  let lastProgressAt = Date.now();
  let lastDelivered = 0;
  let lastBeat = Date.now();
  let finishing = false;
  const totalBytes = o.files.reduce((n, f) => n + f.bytes, 0);
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
    if (interrupted) {
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
  o.progress.stop();
  await pipeline.drain(config.shutdown_timeout);
  await shipper.stop(config.shutdown_timeout);
  o.credentials.stop();
  await client.close();
  const lane = outbox.laneCounts(job.lane);
  if (outcome === 'delivered' || outcome === 'nothing_new') finishJob(outbox, job);
  else releaseJob(outbox, job);
  const invalidRows = outbox.deadLetters.list({ sourcePrefix: `backfill-${job.lane}-`, since: started });
  const hubRows = outbox.deadLetters.list({ stage: 'hub', lane: job.lane, since: started });
  const reasons = summarizeReasons(
    [...invalidRows, ...hubRows].map((d) => ({
      reason: d.reason,
      where: d.stage === 'hub' ? `${d.sensor}/${d.measure} @ ${d.ts === null ? '?' : new Date(d.ts).toISOString()}` : `${d.origin ?? d.source}${d.line === null ? '' : `:${d.line}`}`,
    })),
  );
  const result: BackfillResult = {
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
  outbox.close();
  return result;
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
