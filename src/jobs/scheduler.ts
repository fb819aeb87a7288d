/**
 * Runs named jobs on cron schedules (node-cron 4) with two guarantees:
 *   - isolation: a job that throws or rejects is logged with its name and the next job (and
 *     its own next run) goes on; nothing a job does can reach node-cron as an error or stop
 *     the process;
 *   - no overlap: a job never runs twice at once. node-cron's `noOverlap` covers scheduled
 *     runs, but its `execute()` (used by runNow) bypasses it, so each job also carries its own
 *     running flag, which covers every way in.
 * start() only arms timers; stop() is idempotent, destroys the tasks and waits (bounded) for
 * runs in progress.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';

export interface JobDefinition {
  name: string;
  /** A cron expression, or null: the job is defined (runNow works) but never scheduled. */
  schedule: string | null;
  /** May return fields to log with the job's completion. */
  run: () => void | Record<string, unknown> | Promise<void | Record<string, unknown>>;
}

export type JobOutcome =
  | { status: 'ok'; ms: number; fields?: Record<string, unknown> | undefined }
  | { status: 'failed'; ms: number; error: string }
  | { status: 'skipped'; reason: 'already running' | 'stopped' };

export interface JobSchedulerOptions {
  logger: Logger;
  /** node-cron timezone (IANA name); the process's local time by default. */
  timezone?: string | undefined;
}

interface Entry {
  definition: JobDefinition;
  task: ScheduledTask | null;
  running: Promise<JobOutcome> | null;
}

export class JobScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logger;
  private state: 'new' | 'started' | 'stopped' = 'new';
  private stopping: Promise<void> | null = null;

  constructor(
    definitions: JobDefinition[],
    private readonly options: JobSchedulerOptions,
  ) {
    this.log = options.logger.child({ component: 'jobs' });
    for (const definition of definitions) {
      if (this.entries.has(definition.name)) throw new Error(`job "${definition.name}" is defined twice`);
      this.entries.set(definition.name, { definition, task: null, running: null });
    }
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  start(): void {
    if (this.state !== 'new') return;
    this.state = 'started';
    const cronLogger = {
      info: (message: string) => this.log.debug({ event: 'cron' }, message),
      warn: (message: string) => this.log.warn({ event: 'cron' }, message),
      error: (message: string | Error) => this.log.error({ event: 'cron' }, String(message instanceof Error ? message.message : message)),
      debug: (message: string | Error) => this.log.debug({ event: 'cron' }, String(message instanceof Error ? message.message : message)),
    };
    for (const entry of this.entries.values()) {
      const { name, schedule } = entry.definition;
      if (schedule === null) continue;
      entry.task = cron.createTask(schedule, () => this.runEntry(entry), {
        name: `senseye-agent:${name}`,
        noOverlap: true,
        timezone: this.options.timezone,
        logger: cronLogger,
        // The jobs never keep the process alive on their own; the daemon's stop() ends them.
        unref: true,
      });
      void entry.task.start();
    }
    this.log.debug(
      { event: 'jobs_started', schedules: Object.fromEntries([...this.entries].map(([n, e]) => [n, e.definition.schedule])) },
      'maintenance jobs scheduled',
    );
  }

  /** Runs a job now (at startup, from a test, on demand), under the same isolation and overlap rules. */
  runNow(name: string): Promise<JobOutcome> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`no job named "${name}" (jobs: ${this.names.join(', ')})`);
    return this.runEntry(entry);
  }

  isRunning(name: string): boolean {
    return this.entries.get(name)?.running != null;
  }

  stop(timeoutMs = 5000): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    this.state = 'stopped';
    for (const entry of this.entries.values()) {
      if (entry.task === null) continue;
      try {
        await entry.task.destroy();
      } catch (err) {
        this.log.warn({ event: 'job_stop_failed', job: entry.definition.name, err: String(err) }, 'could not stop a job timer');
      }
      entry.task = null;
    }
    const running = [...this.entries.values()].flatMap((e) => (e.running === null ? [] : [e.running]));
    if (running.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([Promise.allSettled(running).then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn({ event: 'jobs_stop_timeout', jobs: this.names.filter((n) => this.isRunning(n)), timeout_ms: timeoutMs }, 'jobs still running at stop; not waiting longer');
    }
  }

  private runEntry(entry: Entry): Promise<JobOutcome> {
    const name = entry.definition.name;
    if (this.state === 'stopped') return Promise.resolve({ status: 'skipped', reason: 'stopped' });
    if (entry.running !== null) {
      this.log.warn({ event: 'job_overlap_skipped', job: name }, `job ${name} is still running; this run is skipped`);
      return Promise.resolve({ status: 'skipped', reason: 'already running' });
    }
    const run = this.execute(entry.definition);
    entry.running = run;
    void run.finally(() => {
      if (entry.running === run) entry.running = null;
    });
    return run;
  }

  private async execute(definition: JobDefinition): Promise<JobOutcome> {
    const started = Date.now();
    try {
      const fields = (await definition.run()) ?? undefined;
      const ms = Date.now() - started;
      this.log.debug({ event: 'job_finished', job: definition.name, ms, ...fields }, `job ${definition.name} finished`);
      return { status: 'ok', ms, fields };
    } catch (err) {
      const ms = Date.now() - started;
      const error = err instanceof Error ? err.message : String(err);
      this.log.error({ event: 'job_failed', job: definition.name, ms, err: error }, `job ${definition.name} failed; it runs again at its next time`);
      return { status: 'failed', ms, error };
    }
  }
}
