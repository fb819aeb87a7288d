/**
 * What `run` and `backfill` both run, built in one place from the config: the hub client, the
 * sensor directory, the shipper of one outbox lane, the capacity guard, the outbox writer and
 * the ingest pipeline over the given sources. The two commands differ only in the overrides
 * they pass (lane, the backfill's time window and rate, when_full), never in how the parts are
 * wired or mapped from the config.
 *
 * stop() is the ordered half of the lifecycle that belongs to the engine: sources stop and what
 * they read is committed (positions with it), then the shipper finishes or abandons its
 * requests, then the client and the credential watcher close. The whole of it stays within the
 * deadline it is given; the caller marks the outbox clean and closes it.
 */
import type { Logger } from 'pino';
import type { CredentialProvider } from '../auth/credentials.js';
import type { Config } from '../config/schema.js';
import { answerRulesOf } from '../hub/answer-rules.js';
import { HubClient } from '../hub/client.js';
import { SensorDirectory } from '../hub/sensors.js';
import { Shipper } from '../hub/shipper.js';
import type { HubTlsMaterial } from '../net/tls.js';
import { CapacityGuard } from '../outbox/capacity.js';
import type { Outbox } from '../outbox/outbox.js';
import { IngestPipeline, type PipelineOptions } from '../pipeline/pipeline.js';
import { OutboxWriter } from '../pipeline/writer.js';
import type { Source } from '../sources/source.js';

export interface EngineOptions {
  config: Config;
  outbox: Outbox;
  lane: number;
  sources: Source[];
  credentials: CredentialProvider;
  logger: Logger;
  userAgent: string;
  /** hub.tls as read at start (readHubTls), before anything was opened. */
  tls?: HubTlsMaterial | undefined;
  /** Something that cannot be recovered in place failed: the owner stops in order. */
  onFatal: (reason: string) => void;
  /** Default: outbox.when_full. A backfill always blocks: it can be run again later. */
  whenFull?: 'block' | 'drop_oldest';
  /** A step after parsing (backfill's time window). */
  transform?: PipelineOptions['transform'];
  /** Backfill: send partial batches at once, its own rate cap, a quicker look at an empty lane. */
  delivery?: { maxWaitMs?: number; maxRate?: number | null; idlePollMs?: number };
}

export interface EngineStop {
  /** Everything read was committed before the deadline. */
  drained: boolean;
  ms: number;
}

export class Engine {
  readonly client: HubClient;
  readonly shipper: Shipper;
  readonly capacity: CapacityGuard;
  readonly writer: OutboxWriter;
  readonly pipeline: IngestPipeline;
  private stopping: Promise<EngineStop> | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: EngineOptions) {
    const { config, outbox, logger, credentials } = opts;
    this.log = logger.child({ component: 'engine' });
    const hub = config.hub;
    this.client = new HubClient({
      url: hub.url,
      token: () => credentials.current(),
      timeoutMs: hub.timeout,
      paths: hub.paths,
      maxResponseBytes: hub.max_response_bytes,
      answers: answerRulesOf(hub),
      connections: hub.concurrency + 1,
      tls: opts.tls,
      userAgent: opts.userAgent,
    });
    const sensors = new SensorDirectory({ addressing: hub.addressing, overrides: config.sensors, outbox, client: this.client, logger: logger.child({ component: 'sensors' }) });
    this.shipper = new Shipper({
      outbox,
      client: this.client,
      sensors,
      token: () => credentials.current(),
      tokenMissing: () => credentials.problem(),
      onUnauthorized: () => credentials.rejected(),
      onCrashed: (err) => opts.onFatal(`delivery failed: ${err instanceof Error ? err.message : String(err)}`),
      lane: opts.lane,
      logger: logger.child({ component: 'shipper' }),
      maxPoints: hub.batch.max_points,
      maxBytes: hub.batch.max_bytes,
      maxSpectra: hub.batch.max_spectra,
      maxWaitMs: opts.delivery?.maxWaitMs ?? hub.batch.max_wait,
      concurrency: hub.concurrency,
      maxRate: opts.delivery?.maxRate ?? hub.max_rate,
      paceAfterThrottling: hub.pace_after_throttling,
      planInWorker: hub.planner_thread,
      synchronous: config.outbox.synchronous,
      retry: { initialDelayMs: hub.retry.initial_delay, maxDelayMs: hub.retry.max_delay, maxAgeMs: hub.retry.max_age, poisonAfter: hub.retry.poison_after },
      ...(opts.delivery?.idlePollMs !== undefined ? { idlePollMs: opts.delivery.idlePollMs } : {}),
    });
    credentials.onChange(() => this.shipper.retryNow());
    this.capacity = CapacityGuard.forOutbox(outbox, config.state_dir, { maxBytes: config.outbox.max_bytes, minFreeDiskBytes: config.outbox.min_free_disk });
    this.writer = new OutboxWriter(outbox, logger.child({ component: 'outbox' }), { guard: this.capacity, whenFull: opts.whenFull ?? config.outbox.when_full });
    this.writer.onCommitted = () => this.shipper.notify();
    this.pipeline = new IngestPipeline({
      sources: opts.sources,
      writer: this.writer,
      batchSize: config.pipeline.batch_size,
      maxWaitMs: config.pipeline.max_wait,
      logger: logger.child({ component: 'pipeline' }),
      transform: opts.transform,
      onFailed: (err) => opts.onFatal(`the ingest pipeline failed: ${err instanceof Error ? err.message : String(err)}`),
    });
  }

  start(): void {
    this.opts.credentials.start();
    this.pipeline.start();
    this.shipper.start();
  }

  /** Ordered, idempotent, within `deadlineMs` as a whole. */
  stop(deadlineMs: number): Promise<EngineStop> {
    this.stopping ??= this.doStop(deadlineMs);
    return this.stopping;
  }

  private async doStop(deadlineMs: number): Promise<EngineStop> {
    const started = Date.now();
    const left = () => Math.max(0, deadlineMs - (Date.now() - started));
    this.opts.credentials.stop();
    // A step that fails is logged and the next runs: the caller must still get to close the outbox.
    const guarded = async <T>(step: string, work: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await work();
      } catch (err) {
        this.log.error({ event: 'stop_step_failed', step, err: err instanceof Error ? err.message : String(err) }, `stopping: ${step} failed; going on`);
        return fallback;
      }
    };
    const drained = await guarded('draining the sources', () => this.pipeline.drain(left()), false);
    if (!drained) {
      this.log.warn(
        { event: 'drain_incomplete', reason: this.writer.blockedReason },
        'stop deadline reached before everything read was committed; files are read again from their committed position next start',
      );
    }
    await guarded('stopping the shipper', () => this.shipper.stop(left()), undefined);
    await withDeadline(this.client.close(), left()).catch(() => undefined);
    return { drained, ms: Date.now() - started };
  }
}

/** Resolves with the promise, or when `ms` has passed (then the promise is left to finish alone). */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
