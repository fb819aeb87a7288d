/**
 * The daemon's composition root: the outbox (checked at open), its sources under supervision,
 * and the engine (engine.ts, shared with backfill) over the live lane. start() does the I/O;
 * stop() is ordered, idempotent and bounded as a whole by its deadline:
 *   1. sources stop reading and what was read is committed (positions with it);
 *   2. the shipper finishes the requests in flight (abandoning them at the deadline: they
 *      stay in the outbox and the in-flight ledger); the client closes;
 *   3. the database is marked cleanly stopped, checkpointed and closed.
 * Step 3 never throws (outbox-keeper.ts, which also watches the outbox file and its storage
 * faults while the agent runs, and asks for a stop with exit 75 when the file is lost).
 * The agent is also the AgentView its observers (health, metrics, jobs) read.
 */
import type { Logger } from 'pino';
import type { CredentialProvider } from '../auth/credentials.js';
import type { Config } from '../config/schema.js';
import type { HubClient } from '../hub/client.js';
import { readHubTls } from '../net/tls.js';
import { describeState, type DeliveryState } from '../hub/delivery-state.js';
import type { Shipper } from '../hub/shipper.js';
import type { CapacityGuard } from '../outbox/capacity.js';
import { closeNow } from '../outbox/inspect.js';
import { openOutboxChecked } from '../outbox/integrity.js';
import { OUTBOX_DAMAGE_KEY, type OutboxDamage } from '../outbox/salvage-state.js';
import { unpositionedFiles } from '../sources/file/unpositioned.js';
import type { Outbox, OutboxCounts } from '../outbox/outbox.js';
import type { ActiveFault, WriteOperation } from '../outbox/storage-fault.js';
import { LIVE_LANE } from '../outbox/types.js';
import type { IngestPipeline } from '../pipeline/pipeline.js';
import type { OutboxWriter } from '../pipeline/writer.js';
import { createSource } from '../sources/registry.js';
import { sensorIdsOf } from '../sources/parser-options.js';
import { openFileStats, processBudget, type SlotStats } from '../sources/descriptors.js';
import { SupervisedSource, type SourceHealth } from '../sources/supervised-source.js';
import { SourceStartError } from '../sources/start-error.js';
import type { AgentView, TokenView } from './agent-view.js';
import { Engine } from './engine.js';
import { OutboxKeeper } from './outbox-keeper.js';

export interface AgentOptions {
  config: Config;
  logger: Logger;
  credentials: CredentialProvider;
  version?: string;
  /** How the process was loaded (cli/version.ts BUILD), said at start for support. */
  build?: 'bundle' | 'modules';
  /**
   * Asked when the agent cannot go on and must be stopped in order: exit 1 for an unrecoverable
   * failure (the pipeline, the delivery loop), 75 when its outbox.db was deleted or replaced
   * (restart on the written-back file). The caller runs its ordered stop; without one, it is logged.
   */
  onFatal?: (reason: string, exitCode: number) => void;
  /** How often the outbox file's identity is checked and a storage fault probed (default 2 s). */
  storageCheckMs?: number;
}

export class Agent implements AgentView {
  readonly outbox: Outbox;
  readonly shipper: Shipper;
  readonly writer: OutboxWriter;
  readonly capacity: CapacityGuard;
  private readonly engine: Engine;
  private readonly pipeline: IngestPipeline;
  private readonly client: HubClient;
  private readonly credentials: CredentialProvider;
  private stopping: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly sources: SupervisedSource[];
  /** Watches the outbox file and its storage faults, and closes it at the end (outbox-keeper.ts). */
  private readonly keeper: OutboxKeeper;

  constructor(private readonly opts: AgentOptions) {
    const { config, logger } = opts;
    this.log = logger.child({ component: 'agent' });
    this.credentials = opts.credentials;
    // Before the outbox opens: an unreadable hub.tls file stops the start with nothing left open.
    const tls = readHubTls(config.hub.tls);
    const checked = openOutboxChecked(config.state_dir, { synchronous: config.outbox.synchronous, upgradeInUse: true, cacheBytes: config.outbox.cache_size }, logger.child({ component: 'outbox' }));
    this.outbox = checked.outbox;
    if (checked.damage?.positionsLost != null) this.reportFilesStartingAgain(checked.damage);
    this.keeper = new OutboxKeeper({
      outbox: this.outbox,
      stateDir: config.state_dir,
      logger,
      // Built below: read when the keeper looks, never in its constructor.
      keepsCheckpointRoom: () => this.capacity.keepsCheckpointRoom,
      writerBlocked: () => this.writer.blockedReason,
      commitFailing: () => this.writer.commitFailing,
      retryHeldCommit: () => this.writer.retryHeldCommit(),
      onLost: (reason) => this.fatal(reason, 75),
    });
    const sensorIds = sensorIdsOf(config.sensors);
    const sourceLog = logger.child({ component: 'source' });
    // Each source runs supervised: a failure restarts it alone, built again from what is
    // committed (positions read from the outbox at that moment), once the writer has flushed.
    const build = (source: (typeof config.sources)[number]) => () =>
      createSource(source, {
        lane: LIVE_LANE,
        // A spool source looks each file's position up when it opens the file (checkpointOf).
        checkpoints: source.type === 'spool' ? [] : this.outbox.checkpoints(source.name),
        forgetCheckpoint: (fileKey) => this.outbox.forgetCheckpoint(source.name, fileKey),
        checkpointOf: (fileKey) => this.outbox.checkpoint(source.name, fileKey),
        logger: sourceLog,
        sensorIds,
      });
    const sources = config.sources.map(
      (source) =>
        new SupervisedSource(source.name, build(source), {
          logger: sourceLog,
          settle: () => this.writer.flushed(),
          onHealth: (health) => this.recordSourceHealth(source.name, health),
          backoff: { initialDelayMs: config.supervision.restart_initial_delay, maxDelayMs: config.supervision.restart_max_delay },
        }),
    );
    this.sources = sources;
    this.engine = new Engine({
      config,
      outbox: this.outbox,
      lane: LIVE_LANE,
      sources,
      credentials: this.credentials,
      logger,
      userAgent: `senseye-agent/${opts.version ?? 'dev'}`,
      tls,
      onFatal: (reason) => this.fatal(reason),
    });
    this.shipper = this.engine.shipper;
    this.writer = this.engine.writer;
    this.capacity = this.engine.capacity;
    this.client = this.engine.client;
    this.pipeline = this.engine.pipeline;
  }

  /**
   * File positions were lost with a damaged outbox: says, per file source, how many files now
   * have no position and are read again (from their start, or their end under `start_at: end`
   * for a source left with none), and records it for `outbox doctor`.
   */
  private reportFilesStartingAgain(damage: OutboxDamage): void {
    const lost = this.opts.config.sources.flatMap((source) => {
      if (source.type !== 'file') return [];
      const known = this.outbox.checkpoints(source.name);
      const keys = new Set(known.map((c) => c.fileKey));
      return [unpositionedFiles(source, { count: known.length, has: (key) => keys.has(key) })];
    });
    this.outbox.state.set(OUTBOX_DAMAGE_KEY, { ...damage, filesStartingAgain: lost });
    for (const l of lost) {
      this.log.warn(
        { event: 'positions_lost', source: l.source, files: l.files, from: l.from, reason: damage.positionsLost },
        `source ${l.source}: ${l.files} files have no position (the damaged outbox's positions could not be read) and are read from their ${l.from}`,
      );
    }
  }

  start(): void {
    const { config } = this.opts;
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
    this.engine.start();
    this.keeper.start(this.opts.storageCheckMs ?? 2000);
  }

  /** Why the agent asked to be stopped for its outbox file, as one line, final once stop() resolved; or null. */
  get fatalReason(): string | null {
    return this.keeper.stopReason;
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

  /**
   * Something that cannot be recovered in place failed (the ingest pipeline, the shipper's loop):
   * the process stops in order, like at SIGTERM, and exits 1 so that systemd or the container
   * runtime starts it again. Without a listener (tests building an Agent directly) it is logged.
   */
  fatal(reason: string, exitCode = 1): void {
    this.log.fatal({ event: 'agent_failed', reason, exit_code: exitCode }, `${reason}: stopping in order (exit ${exitCode})`);
    this.opts.onFatal?.(reason, exitCode);
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
    closeNow(this.outbox);
  }

  private async doStop(deadlineMs: number): Promise<void> {
    const started = Date.now();
    this.log.info({ event: 'agent_stopping', deadline_ms: deadlineMs }, 'stopping: committing what was read, finishing requests in flight');
    this.keeper.stopWatching();
    await this.engine.stop(deadlineMs);
    const counts = this.keeper.close();
    this.log.info(
      { event: 'agent_stopped', ms: Date.now() - started, outbox: counts, delivery: describeState(this.shipper.state) },
      counts === null
        ? 'stopped (the outbox could not be read at the end)'
        : `stopped: ${counts.delivered} delivered in total, ${counts.depth} waiting in the outbox, ${counts.invalid + counts.rejected} dead letters`,
    );
  }

  // --- AgentView -------------------------------------------------------------------------

  sourceHealth(): Array<{ source: string; health: SourceHealth }> {
    return this.sources.map((s) => ({ source: s.name, health: s.health() }));
  }

  /** For `status` (another process): informational, so a busy or full database never stops a source over it. */
  private recordSourceHealth(source: string, health: SourceHealth): void {
    try {
      this.outbox.state.setWithoutFsync(`source_health.${source}`, { ...health, pid: process.pid });
    } catch (err) {
      this.log.debug({ event: 'source_health_not_written', source, err: (err as Error).message }, 'source health not written for status');
    }
  }

  sourceUnreadyAfterMs(): number {
    return this.opts.config.supervision.unready_after;
  }

  sourceCounters(): Array<{ source: string; received: number; invalid: number }> {
    const counters = this.outbox.counters();
    return this.opts.config.sources.map((s) => ({
      source: s.name,
      received: counters.get(`received.${s.name}`) ?? 0,
      invalid: counters.get(`invalid.${s.name}`) ?? 0,
    }));
  }

  sourceDrops(): Array<{ source: string; where: 'receive_buffer' | 'backlog'; count: number; mqtt?: boolean }> {
    const out: Array<{ source: string; where: 'receive_buffer' | 'backlog'; count: number; mqtt?: boolean }> = [];
    for (const s of this.sources) {
      const d = s.drops?.();
      if (d === undefined) continue;
      const mqtt = this.opts.config.sources.some((c) => c.name === s.name && c.type === 'mqtt');
      if (d.kernel !== null) out.push({ source: s.name, where: 'receive_buffer', count: d.kernel });
      out.push({ source: s.name, where: 'backlog', count: d.backlog, mqtt });
    }
    return out;
  }

  openFiles(): { sources: SlotStats[]; budget: number } {
    return { sources: openFileStats(), budget: processBudget.total };
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
    return this.writer.blockedReason ?? this.keeper.faults.reason();
  }

  storageFaultsActive(): ActiveFault[] {
    return this.keeper.faults.list();
  }

  writeFailures(): Readonly<Record<WriteOperation, number>> {
    return this.keeper.faults.writeFailures;
  }

  dropped(): number {
    return this.writer.dropped;
  }

  delivery(): DeliveryState {
    return this.shipper.state;
  }

  hubRequests(): ReadonlyMap<string, number> {
    return this.client.requests;
  }

  hubUnexpectedAnswers(): ReadonlyMap<string, number> {
    return this.client.unexpectedAnswers;
  }

  deliveryUnreadyAfterMs(): number {
    return this.opts.config.hub.unready_after;
  }

  deliveryStats() {
    const s = this.shipper.stats();
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
