/**
 * The composition root: builds every part from the config and wires them; start() does the
 * I/O, stop() is ordered, idempotent and bounded:
 *   1. sources stop reading and what was read is committed (positions with it);
 *   2. the shipper finishes the requests in flight (abandoning them at the deadline: they
 *      stay in the outbox and the in-flight ledger);
 *   3. the database is marked cleanly stopped, checkpointed and closed.
 * The agent is also the AgentView its observers (health, metrics, jobs) read.
 */
import type { Logger } from 'pino';
import type { CredentialProvider } from '../auth/credentials.js';
import type { Config } from '../config/schema.js';
import { HubClient } from '../hub/client.js';
import { describeState, type DeliveryState } from '../hub/delivery-state.js';
import { SensorDirectory } from '../hub/sensors.js';
import { Shipper } from '../hub/shipper.js';
import { CapacityGuard } from '../outbox/capacity.js';
import { markCleanShutdown, openOutboxChecked } from '../outbox/integrity.js';
import type { Outbox, OutboxCounts } from '../outbox/outbox.js';
import { LIVE_LANE } from '../outbox/types.js';
import { IngestPipeline } from '../pipeline/pipeline.js';
import { OutboxWriter } from '../pipeline/writer.js';
import { createSource } from '../sources/registry.js';
import { sensorIdsOf } from '../sources/parser-options.js';
import type { Source } from '../sources/source.js';
import { SourceStartError } from '../sources/start-error.js';
import type { AgentView, TokenView } from './agent-view.js';

export interface AgentOptions {
  config: Config;
  logger: Logger;
  credentials: CredentialProvider;
  version?: string;
  /** How the process was loaded (cli/version.ts BUILD), said at start for support. */
  build?: 'bundle' | 'modules';
}

export class Agent implements AgentView {
  readonly outbox: Outbox;
  readonly shipper: Shipper;
  readonly writer: OutboxWriter;
  readonly capacity: CapacityGuard;
  private readonly pipeline: IngestPipeline;
  private readonly client: HubClient;
  private readonly credentials: CredentialProvider;
  private stopping: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly sources: Source[];

  constructor(private readonly opts: AgentOptions) {
    const { config, logger } = opts;
    this.log = logger.child({ component: 'agent' });
    this.credentials = opts.credentials;
    this.outbox = openOutboxChecked(config.state_dir, { synchronous: config.outbox.synchronous, upgradeInUse: true }, logger.child({ component: 'outbox' })).outbox;
    this.client = new HubClient({
      url: config.hub.url,
      token: () => this.credentials.current(),
      timeoutMs: config.hub.timeout,
      paths: config.hub.paths,
      connections: config.hub.concurrency + 1,
      userAgent: `senseye-agent/${opts.version ?? 'dev'}`,
    });
    const sensors = new SensorDirectory({
      addressing: config.hub.addressing,
      overrides: config.sensors,
      outbox: this.outbox,
      client: this.client,
      logger: logger.child({ component: 'sensors' }),
    });
    this.shipper = new Shipper({
      outbox: this.outbox,
      client: this.client,
      sensors,
      token: () => this.credentials.current(),
      tokenMissing: () => this.credentials.problem(),
      onUnauthorized: () => this.credentials.rejected(),
      lane: LIVE_LANE,
      logger: logger.child({ component: 'shipper' }),
      maxPoints: config.hub.batch.max_points,
      maxBytes: config.hub.batch.max_bytes,
      maxSpectra: config.hub.batch.max_spectra,
      maxWaitMs: config.hub.batch.max_wait,
      concurrency: config.hub.concurrency,
      maxRate: config.hub.max_rate,
      paceAfterThrottling: config.hub.pace_after_throttling,
      planInWorker: true,
      synchronous: config.outbox.synchronous,
      retry: {
        initialDelayMs: config.hub.retry.initial_delay,
        maxDelayMs: config.hub.retry.max_delay,
        maxAgeMs: config.hub.retry.max_age,
      },
    });
    this.credentials.onChange(() => this.shipper.retryNow());
    const sensorIds = sensorIdsOf(config.sensors);
    const sources: Source[] = config.sources.map((source) =>
      createSource(source, {
        lane: LIVE_LANE,
        // A spool source looks each file's position up when it opens the file (checkpointOf).
        checkpoints: source.type === 'spool' ? [] : this.outbox.checkpoints(source.name),
        forgetCheckpoint: (fileKey) => this.outbox.forgetCheckpoint(source.name, fileKey),
        checkpointOf: (fileKey) => this.outbox.checkpoint(source.name, fileKey),
        logger: logger.child({ component: 'source' }),
        sensorIds,
      }),
    );
    this.sources = sources;
    this.capacity = new CapacityGuard(this.outbox.db, config.state_dir, {
      maxBytes: config.outbox.max_bytes,
      minFreeDiskBytes: config.outbox.min_free_disk,
    });
    this.writer = new OutboxWriter(this.outbox, logger.child({ component: 'outbox' }), { guard: this.capacity, whenFull: config.outbox.when_full });
    this.writer.onCommitted = () => this.shipper.notify();
    this.pipeline = new IngestPipeline({
      sources,
      writer: this.writer,
      batchSize: config.pipeline.batch_size,
      maxWaitMs: config.pipeline.max_wait,
      logger: logger.child({ component: 'pipeline' }),
    });
  }

  start(): void {
    const { config } = this.opts;
    this.credentials.start();
    const t = this.credentials.current();
    this.log.info(
      {
        event: 'agent_started',
        version: this.opts.version ?? 'dev',
        build: this.opts.build ?? 'modules',
        hub: config.hub.url,
        addressing: config.hub.addressing,
        state_dir: config.state_dir,
        sources: config.sources.map((s) => s.name),
        credential:
          t === null
            ? { auth: config.hub.auth.type, ready: false }
            : { fingerprint: t.fingerprint, kind: t.claims.kind, origin: t.origin, expires_at: t.claims.expiresAt?.toISOString() ?? null, permissions: t.claims.permissions },
        outbox: this.outbox.counts(),
      },
      'agent started',
    );
    const problem = this.shipper.tokenProblem();
    if (problem !== null && t !== null) this.log.error({ event: 'delivery_paused', reason: problem }, 'delivery paused; collection continues');
    this.pipeline.start();
    this.shipper.start();
  }

  /**
   * Sources that cannot run at all (port taken, certificate unusable): a configuration problem.
   * Resolves once every source has started or failed, with the failures (logged here, by name);
   * the caller stops the agent and exits 78.
   */
  async sourceFailures(): Promise<SourceStartError[]> {
    const settled = await Promise.allSettled(this.sources.map((s) => s.whenStarted?.()));
    const failures = settled.flatMap((r) =>
      r.status === 'rejected' ? [r.reason instanceof SourceStartError ? r.reason : new SourceStartError('?', String(r.reason), 'unexpected')] : [],
    );
    for (const e of failures) this.log.fatal({ event: 'source_failed', source: e.source, code: e.code, hint: e.hint }, e.message);
    return failures;
  }

  /** SIGHUP: pick up a replaced token now. */
  reloadCredentials(reason: string): Promise<boolean> {
    return this.credentials.reload(reason);
  }

  /** True when every source is at its end, everything read is committed and the outbox lane is empty. */
  isCaughtUp(): boolean {
    return this.pipeline.isCaughtUp() && this.shipper.isIdle();
  }

  /** From now on send partial batches at once (used by --exit-when-idle and at shutdown). */
  flushNow(): void {
    this.shipper.setFlushNow(true);
  }

  stop(deadlineMs: number = this.opts.config.shutdown_timeout): Promise<void> {
    this.stopping ??= this.doStop(deadlineMs);
    return this.stopping;
  }

  /** At a second signal: stop at once; SQLite's WAL keeps the database consistent. */
  abort(): void {
    this.pipeline.abort();
    if (this.outbox.db.open) this.outbox.db.close();
  }

  private async doStop(deadlineMs: number): Promise<void> {
    const started = Date.now();
    this.log.info({ event: 'agent_stopping', deadline_ms: deadlineMs }, 'stopping: committing what was read, finishing requests in flight');
    this.credentials.stop();
    const drained = await this.pipeline.drain(deadlineMs);
    if (!drained) {
      this.log.warn(
        { event: 'drain_incomplete', reason: this.writer.blockedReason },
        'stop deadline reached before everything read was committed; files are read again from their committed position next start',
      );
    }
    await this.shipper.stop(Math.max(0, deadlineMs - (Date.now() - started)));
    await this.client.close().catch(() => undefined);
    const counts = this.outbox.counts();
    markCleanShutdown(this.outbox);
    this.outbox.close();
    this.log.info(
      { event: 'agent_stopped', ms: Date.now() - started, outbox: counts, delivery: describeState(this.shipper.state) },
      `stopped: ${counts.delivered} delivered in total, ${counts.depth} waiting in the outbox, ${counts.invalid + counts.rejected} dead letters`,
    );
  }

  // --- AgentView -------------------------------------------------------------------------

  sourceCounters(): Array<{ source: string; received: number; invalid: number }> {
    const counters = this.outbox.counters();
    return this.opts.config.sources.map((s) => ({
      source: s.name,
      received: counters.get(`received.${s.name}`) ?? 0,
      invalid: counters.get(`invalid.${s.name}`) ?? 0,
    }));
  }

  sourceDrops(): Array<{ source: string; where: 'receive_buffer' | 'backlog'; count: number }> {
    const out: Array<{ source: string; where: 'receive_buffer' | 'backlog'; count: number }> = [];
    for (const s of this.sources) {
      const d = s.drops?.();
      if (d === undefined) continue;
      if (d.kernel !== null) out.push({ source: s.name, where: 'receive_buffer', count: d.kernel });
      out.push({ source: s.name, where: 'backlog', count: d.backlog });
    }
    return out;
  }

  outboxCounts(): OutboxCounts {
    return this.outbox.counts();
  }

  outboxBytes(): number {
    return this.capacity.usedBytes();
  }

  oldestWaitingTs(): number | null {
    return this.outbox.oldestReadingTs(LIVE_LANE);
  }

  outboxBlocked(): string | null {
    return this.writer.blockedReason;
  }

  dropped(): number {
    return this.writer.dropped;
  }

  delivery(): DeliveryState {
    return this.shipper.state;
  }

  hubRequests(): ReadonlyMap<string, number> {
    return this.shipper.stats.byStatus;
  }

  deliveryStats() {
    const s = this.shipper.stats;
    return { delivered: s.delivered, spectraDelivered: s.spectraDelivered, rejected: s.rejected, retried: s.retried, throttled: s.throttled };
  }

  retryDelayMs(): number {
    const s = this.shipper.state;
    return 'until' in s ? Math.max(0, s.until - Date.now()) : 0;
  }

  waitingSensors(): ReadonlyMap<string, string> {
    return this.shipper.waitingSensors;
  }

  token(): TokenView | null {
    const t = this.credentials.current();
    return t === null ? null : { fingerprint: t.fingerprint, kind: t.claims.kind, expiresAt: t.claims.expiresAt, permissions: t.claims.permissions };
  }

  tokenProblem(): string | null {
    return this.shipper.tokenProblem();
  }
}
