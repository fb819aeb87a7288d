/**
 * `senseye-agent run --config FILE`: the daemon in the foreground.
 * SIGTERM/SIGINT stop it gracefully (exit 0); a second signal exits at once. A storage fault the
 * agent cannot go on with (outbox.db deleted or replaced) stops it the same ordered way and exits
 * 75 with one line on stderr; a start that meets a full disk or an I/O error exits 75 with one line.
 */
import type { Logger } from 'pino';
import type { CommandModule } from 'yargs';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import type { Config, LogLevel } from '../config/schema.js';
import { createCredentialProvider, type CredentialProvider } from '../auth/credentials.js';
import { TokenRejectedError } from '../auth/machine-token-provider.js';
import { TokenNotFoundError } from '../auth/token-sources.js';
import { Agent } from '../daemon/agent.js';
import { stopInOrder } from '../daemon/lifecycle.js';
import { HubTlsError } from '../net/tls.js';
import { applyRuntimeConfig } from '../daemon/reload.js';
import { isOutboxRefusal, OutboxOpenError } from '../outbox/db.js';
import { describeStartupStorageError, storageFaultOf } from '../outbox/storage-fault.js';
import { createJobs, type Jobs } from '../jobs/jobs.js';
import { startHealthServer, HealthServerError, type HealthServer } from '../observability/health-server.js';
import { createLogger } from '../observability/logger.js';
import { acquireInstanceLock, AgentRunningError, InstanceLockError, type InstanceLock } from '../outbox/instance-lock.js';
import { createMetrics } from '../observability/metrics.js';
import { createSystemdNotifier } from '../observability/systemd-notify.js';
import { logLevelOption } from './common.js';
import { EXIT } from './exit-codes.js';
import { BUILD, VERSION } from './version.js';

export interface RunArgs {
  config: string;
  'log-level'?: LogLevel | undefined;
  'exit-when-idle': boolean;
}

export interface RunOptions {
  config: Config;
  /** The config file, read again on SIGHUP. */
  configFile?: string | undefined;
  logLevel?: LogLevel | undefined;
  exitWhenIdle: boolean;
  env?: NodeJS.ProcessEnv;
  /** Called once the agent is caught up (with --exit-when-idle) or stopped. */
  onStopped?: (agent: Agent) => void | Promise<void>;
}

/**
 * Runs the agent until a signal (or until idle); returns the exit code. The state directory's
 * lock (outbox/instance-lock.ts) is taken before anything opens the outbox and released after
 * the ordered stop has closed it; a second agent on the same state directory exits 75.
 */
export async function runAgent(options: RunOptions): Promise<number> {
  const logger = createLogger({ level: options.logLevel ?? options.config.log.level });
  let lock: InstanceLock;
  try {
    lock = acquireInstanceLock(options.config.state_dir);
  } catch (err) {
    if (!(err instanceof AgentRunningError || err instanceof InstanceLockError)) throw err;
    const running = err instanceof AgentRunningError;
    logger.fatal(
      {
        event: running ? 'agent_already_running' : 'startup_failed',
        code: err.code,
        state_dir: options.config.state_dir,
        ...(running ? { holder_pid: err.holder?.pid ?? null } : {}),
        hint: err.hint,
      },
      err.message,
    );
    logger.flush();
    process.stderr.write(`senseye-agent: ${err.message}\n`);
    return running ? EXIT.tempfail : EXIT.config;
  }
  try {
    return await runLocked(options, logger);
  } finally {
    lock.release();
  }
}

async function runLocked(options: RunOptions, logger: Logger): Promise<number> {
  const { config } = options;
  // systemd: keep the watchdog fed from the start (an integrity check after a crash may be slow).
  const notifier = createSystemdNotifier(process.env, { logger: logger.child({ component: 'systemd' }) });
  notifier.startWatchdog();
  let agent: Agent;
  let credentials: CredentialProvider;
  let http: HealthServer | null = null;
  // Bound once the ordered stop exists (below): the agent asks for it on what it cannot
  // recover from in place (exit 1), or when its outbox file was lost (exit 75).
  let onFatal: (reason: string, exitCode: number) => void = () => undefined;
  try {
    credentials = await createCredentialProvider(config, options.env ?? process.env, logger.child({ component: 'auth' }));
    agent = new Agent({ config, logger, credentials, version: VERSION, build: BUILD, onFatal: (reason, exitCode) => onFatal(reason, exitCode) });
  } catch (err) {
    if (err instanceof TokenNotFoundError || err instanceof TokenRejectedError || err instanceof OutboxOpenError || err instanceof HubTlsError) {
      return startupFailed(err);
    }
    // A newer schema, a failed (rolled back) upgrade: the outbox is kept as it is; exit 75, so
    // systemd or the container tries again (a full disk may have been cleared by then).
    if (isOutboxRefusal(err)) return startupFailed(err, EXIT.tempfail);
    // A full disk, an I/O error, a state dir that vanished: one line with what to do, exit 75.
    if (storageFaultOf(err) !== null) {
      return startupFailed(Object.assign(new Error(`cannot start: ${describeStartupStorageError(err, config.state_dir)}`), { code: 'SENSEYE_STORAGE_FAULT' }), EXIT.tempfail);
    }
    throw err;
  }
  if (config.http.listen !== null) {
    try {
      http = await startHealthServer({
        listen: config.http.listen,
        view: agent,
        registry: createMetrics({ view: agent, version: VERSION, logger }),
        logger: logger.child({ component: 'http' }),
      });
    } catch (err) {
      if (!(err instanceof HealthServerError)) throw err;
      await agent.stop(0);
      return startupFailed(err);
    }
  }
  const jobs: Jobs = createJobs({
    schedules: config.jobs,
    outbox: agent.outbox,
    view: agent,
    logger: logger.child({ component: 'jobs' }),
    tokenExpiryWarningMs: config.token_expiry_warning,
  });

  function startupFailed(err: Error & { code: string }, exitCode: number = EXIT.config): number {
    logger.fatal({ event: 'startup_failed', code: err.code }, err.message);
    logger.flush();
    process.stderr.write(`senseye-agent: ${err.message}\n`);
    void notifier.close();
    return exitCode;
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    let idleTimer: NodeJS.Timeout | null = null;
    let finishing = false;
    let fatalReason: string | null = null;
    /** A fatal exit code asked for while the stop was already under way (an outbox lost at the end). */
    let lateExitCode: number | null = null;
    // One ordered stop, whoever asks first (a signal, --exit-when-idle, a source that cannot run).
    // Endpoint, jobs, then the agent (sources, commit what was read, shipper, client, mark
    // clean, close), then systemd: one deadline, shutdown_timeout, for all of it.
    const finish = async (code: number) => {
      if (finishing) return;
      finishing = true;
      if (idleTimer !== null) clearInterval(idleTimer);
      notifier.stopping();
      const deadline = config.shutdown_timeout;
      const started = Date.now();
      const report = await stopInOrder(
        [
          { name: 'the HTTP endpoint', run: () => http?.close() },
          { name: 'the maintenance jobs', run: () => jobs.stop() }, // before the database closes
          // The agent gets what is left less a moment for the steps after it.
          { name: 'the agent', run: () => agent.stop(Math.max(0, deadline - (Date.now() - started) - 250)) },
          { name: 'systemd notification', run: () => notifier.close() },
        ],
        deadline,
        logger,
      );
      if (report.failed.length + report.timedOut.length > 0 && code === EXIT.ok) code = EXIT.unexpected;
      if (lateExitCode !== null && code === EXIT.ok) code = lateExitCode;
      try {
        await options.onStopped?.(agent);
      } catch (err) {
        logger.error({ event: 'on_stopped_failed', err: err instanceof Error ? err.message : String(err) }, 'the after-stop callback failed');
      }
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      logger.flush();
      // The agent's final word (whether its outbox was written back), else what it asked with.
      if (fatalReason !== null) process.stderr.write(`senseye-agent: ${agent.fatalReason ?? fatalReason}\n`);
      resolve(code);
    };
    onFatal = (reason, exitCode) => {
      fatalReason ??= reason;
      // During the stop (its last step found the outbox file lost, say): the stop goes on, and
      // ends with this code instead of 0.
      if (finishing) {
        lateExitCode ??= exitCode;
        return;
      }
      void finish(exitCode);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        logger.info({ event: 'signal', signal }, `${signal}: stopping gracefully (send it again to stop at once)`);
        void finish(EXIT.ok);
      } else {
        logger.warn({ event: 'signal', signal }, `${signal} again: stopping at once; the outbox stays consistent`);
        agent.abort();
        logger.flush();
        process.exit(EXIT.ok);
      }
    };
    let running = config;
    const onHangup = () => {
      logger.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading the token and the config');
      void agent.reloadCredentials('SIGHUP').then((changed) => {
        if (!changed) logger.info({ event: 'token_unchanged' }, 'SIGHUP: the token is unchanged');
      });
      if (options.configFile === undefined) return;
      try {
        const next = loadConfig(options.configFile, options.env ?? process.env).config;
        const outcome = applyRuntimeConfig(running, next, logger, { setMaxRate: (r) => agent.shipper.gate.setMaxRate(r) });
        running = { ...running, log: next.log, hub: { ...running.hub, max_rate: next.hub.max_rate } };
        logger.info(
          { event: 'config_reloaded', applied: outcome.applied, needs_restart: outcome.needsRestart },
          outcome.applied.length === 0 && outcome.needsRestart.length === 0
            ? 'SIGHUP: the config is unchanged'
            : `SIGHUP: applied ${outcome.applied.length === 0 ? 'nothing' : outcome.applied.join(', ')}` +
                (outcome.needsRestart.length > 0 ? `; restart to apply ${outcome.needsRestart.join(', ')}` : ''),
        );
      } catch (err) {
        logger.error({ event: 'config_reload_failed', error: (err as Error).message }, 'SIGHUP: the config does not validate; nothing was changed');
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHangup);
    // Start only once the signal handlers are in place: a SIGTERM a moment after start must
    // stop the agent gracefully, not kill it outright.
    agent.start();
    void agent.sourceFailures().then((failures) => {
      if (failures.length === 0) return;
      for (const e of failures) process.stderr.write(`senseye-agent: ${e.message}\n`);
      void finish(EXIT.config);
    });
    jobs.start();
    void jobs.runNow('token_check');
    notifier.ready();
    if (options.exitWhenIdle) {
      agent.flushNow();
      let quietChecks = 0;
      idleTimer = setInterval(() => {
        // Two consecutive idle looks: nothing was mid-way between source, outbox and hub.
        quietChecks = agent.isCaughtUp() ? quietChecks + 1 : 0;
        if (quietChecks >= 2) {
          logger.info({ event: 'caught_up' }, 'all sources read to their end and the outbox is empty: exiting');
          void finish(EXIT.ok);
        }
      }, 200);
    }
  });
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run',
  describe: 'Run the agent in the foreground: read the sources into the outbox and deliver it to the hub',
  builder: (y) =>
    y
      .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'Path of the YAML configuration file' })
      .option('log-level', logLevelOption)
      .option('exit-when-idle', {
        type: 'boolean',
        default: false,
        describe: 'Exit 0 once every source is read to its end and the outbox is empty (demos, one-off runs)',
      }),
  handler: async (args) => {
    let config: Config;
    try {
      config = loadConfig(args.config).config;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exitCode = EXIT.config;
        return;
      }
      throw err;
    }
    process.exitCode = await runAgent({ config, configFile: args.config, logLevel: args['log-level'], exitWhenIdle: args['exit-when-idle'] });
  },
};
