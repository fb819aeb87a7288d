/**
 * sd_notify without a native module: READY, STOPPING, WATCHDOG and STATUS reach systemd through
 * its own `systemd-notify` helper, because Node cannot send a unix datagram (dgram knows only
 * udp4/udp6; net.connect to the SOCK_DGRAM $NOTIFY_SOCKET fails with EPROTOTYPE). The helper is
 * a child process, so the unit needs NotifyAccess=all; systemd-notify (systemd >= 246) waits on a
 * BARRIER until PID 1 has processed the message, so the message is attributed to the service
 * even though the helper exits at once.
 *
 * Invariants: without NOTIFY_SOCKET every call is a no-op (nothing is spawned); no call ever
 * throws or blocks the caller; messages go out one at a time in the order they were asked for
 * (READY can never overtake STOPPING); a queued WATCHDOG is not queued twice; each helper is
 * killed after `timeoutMs`, so a stuck helper cannot hold up the queue for long.
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

export interface SystemdNotifier {
  /** True when started by systemd with a notify socket (Type=notify). */
  readonly enabled: boolean;
  /** How often to send WATCHDOG=1 (half of WatchdogSec), or null when no watchdog is set for this process. */
  readonly watchdogIntervalMs: number | null;
  ready(): void;
  stopping(): void;
  watchdog(): void;
  /** Free text shown by `systemctl status` (newlines are flattened: they would end the message field). */
  status(text: string): void;
  /** Sends WATCHDOG=1 every watchdogIntervalMs (on an unref'd timer) until close(); a no-op without a watchdog. */
  startWatchdog(): void;
  /** Stops the watchdog timer and waits for queued messages (bounded by the helper timeout). */
  close(): Promise<void>;
}

export interface NotifierOptions {
  /** The helper; resolved on env.PATH. */
  command?: string;
  /** A helper still running after this is killed. */
  timeoutMs?: number;
  logger?: Logger;
}

const MAX_STATUS = 512;

export function createSystemdNotifier(env: NodeJS.ProcessEnv = process.env, options: NotifierOptions = {}): SystemdNotifier {
  const socket = env.NOTIFY_SOCKET;
  const enabled = socket !== undefined && socket !== '';
  const watchdogIntervalMs = enabled ? watchdogInterval(env) : null;
  const command = options.command ?? 'systemd-notify';
  const timeoutMs = options.timeoutMs ?? 5000;
  const log = options.logger?.child({ component: 'systemd' });

  let queue: Promise<void> = Promise.resolve();
  let watchdogQueued = false;
  let timer: NodeJS.Timeout | null = null;
  let missingReported = false;

  const send = (assignment: string): Promise<void> =>
    new Promise<void>((resolve) => {
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(kill);
        resolve();
      };
      let kill: NodeJS.Timeout | undefined;
      try {
        const child = spawn(command, [assignment], { env, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-500)));
        kill = setTimeout(() => {
          child.kill('SIGKILL');
          log?.warn({ event: 'systemd_notify_timeout', message: assignment.split('=', 1)[0], timeout_ms: timeoutMs }, 'systemd-notify did not finish in time; killed');
          done();
        }, timeoutMs);
        kill.unref();
        let spawnFailed = false;
        child.on('error', (err: NodeJS.ErrnoException) => {
          spawnFailed = true;
          if (err.code === 'ENOENT') {
            if (!missingReported) {
              missingReported = true;
              log?.error(
                { event: 'systemd_notify_missing', command },
                `${command} not found on PATH: systemd is not told READY/WATCHDOG (a Type=notify unit will time out); install systemd's tools or use Type=exec`,
              );
            }
          } else log?.warn({ event: 'systemd_notify_failed', err: err.message }, 'systemd-notify could not be started');
          done();
        });
        child.on('close', (code) => {
          if (!spawnFailed && code !== 0 && code !== null) {
            log?.warn({ event: 'systemd_notify_failed', code, stderr: stderr.trim() }, 'systemd-notify failed');
          }
          done();
        });
      } catch (err) {
        log?.warn({ event: 'systemd_notify_failed', err: err instanceof Error ? err.message : String(err) }, 'systemd-notify could not be started');
        done();
      }
    });

  const enqueue = (assignment: string): void => {
    if (!enabled) return;
    queue = queue.then(() => send(assignment));
  };

  const notifier: SystemdNotifier = {
    enabled,
    watchdogIntervalMs,
    ready: () => enqueue('READY=1'),
    stopping: () => enqueue('STOPPING=1'),
    watchdog: () => {
      if (!enabled || watchdogQueued) return;
      watchdogQueued = true;
      queue = queue.then(() => {
        watchdogQueued = false;
        return send('WATCHDOG=1');
      });
    },
    status: (text) => enqueue(`STATUS=${flatten(text)}`),
    startWatchdog: () => {
      if (watchdogIntervalMs === null || timer !== null) return;
      notifier.watchdog();
      timer = setInterval(() => notifier.watchdog(), watchdogIntervalMs);
      timer.unref();
    },
    close: async () => {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await queue;
    },
  };
  return notifier;
}

/** Half of WATCHDOG_USEC (sd_watchdog_enabled's advice), when the watchdog is meant for this process. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

function flatten(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ').trim();
  return flat.length > MAX_STATUS ? flat.slice(0, MAX_STATUS) : flat;
}
