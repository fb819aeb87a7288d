/**
 * The systemd notifier against a stand-in `systemd-notify` on PATH that records each call
 * (its NOTIFY_SOCKET and arguments), can fail, or can hang.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSystemdNotifier, watchdogInterval } from '../../src/observability/systemd-notify.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const FAKE = `#!/bin/sh
{ printf '%s' "$NOTIFY_SOCKET"; for a in "$@"; do printf '\\t%s' "$a"; done; printf '\\n'; } >> "$FAKE_NOTIFY_LOG"
case "$1" in READY=1) if [ -n "$FAKE_NOTIFY_HANG" ]; then exec sleep 30; fi;; esac
if [ -n "$FAKE_NOTIFY_SLEEP" ]; then sleep "$FAKE_NOTIFY_SLEEP"; fi
exit "\${FAKE_NOTIFY_EXIT:-0}"
`;

function rig(extraEnv: NodeJS.ProcessEnv = {}, withHelper = true) {
  const dir = tempDir('senseye-notify-');
  const bin = path.join(dir, 'bin');
  const log = path.join(dir, 'calls.log');
  if (withHelper) {
    writeFileSync(path.join(dir, 'systemd-notify'), FAKE);
    chmodSync(path.join(dir, 'systemd-notify'), 0o755);
  }
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const env: NodeJS.ProcessEnv = {
    PATH: withHelper ? `${dir}:/usr/bin:/bin` : bin,
    NOTIFY_SOCKET: '/run/systemd/notify',
    FAKE_NOTIFY_LOG: log,
    ...extraEnv,
  };
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []);
  return { env, logger, logs, calls };
}

describe('systemd notifier', () => {
  it('does nothing at all without NOTIFY_SOCKET', async () => {
    const r = rig({ NOTIFY_SOCKET: undefined, WATCHDOG_USEC: '1000000' });
    const n = createSystemdNotifier(r.env, { logger: r.logger });
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeNull();
    n.ready();
    n.status('x');
    n.watchdog();
    n.startWatchdog();
    n.stopping();
    await n.close();
    expect(r.calls()).toEqual([]);
    expect(r.logs).toEqual([]);
  });

  it('sends READY, STATUS, WATCHDOG and STOPPING in order, through the socket systemd gave', async () => {
    const r = rig();
    const n = createSystemdNotifier(r.env, { logger: r.logger });
    expect(n.enabled).toBe(true);
    n.ready();
    n.status('delivering\nFAKE=injected');
    n.watchdog();
    n.stopping();
    await n.close();
    expect(r.calls()).toEqual([
      '/run/systemd/notify\tREADY=1',
      // A newline would start a new assignment in the notify protocol: it is flattened.
      '/run/systemd/notify\tSTATUS=delivering FAKE=injected',
      '/run/systemd/notify\tWATCHDOG=1',
      '/run/systemd/notify\tSTOPPING=1',
    ]);
  });

  it('queues a watchdog ping once however often it is asked for while one waits', async () => {
    const r = rig({ FAKE_NOTIFY_SLEEP: '0.2' });
    const n = createSystemdNotifier(r.env);
    n.ready();
    for (let i = 0; i < 5; i++) n.watchdog();
    await n.close();
    expect(r.calls().map((l) => l.split('\t')[1])).toEqual(['READY=1', 'WATCHDOG=1']);
  });

  it('pings the watchdog at half of WATCHDOG_USEC until closed', async () => {
    const r = rig({ WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid) });
    const n = createSystemdNotifier(r.env);
    expect(n.watchdogIntervalMs).toBe(50);
    n.startWatchdog();
    await waitFor(() => r.calls().length >= 3, 'three watchdog pings', { timeoutMs: 5000 });
    await n.close();
    expect(new Set(r.calls().map((l) => l.split('\t')[1]))).toEqual(new Set(['WATCHDOG=1']));
  });

  it('reads the watchdog settings as sd_watchdog_enabled does', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '120000000' }, 42)).toBe(60_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '120000000', WATCHDOG_PID: '42' }, 42)).toBe(60_000);
    // Inherited by a child process: not meant for it.
    expect(watchdogInterval({ WATCHDOG_USEC: '120000000', WATCHDOG_PID: '41' }, 42)).toBeNull();
    expect(watchdogInterval({}, 42)).toBeNull();
    expect(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 42)).toBeNull();
    expect(watchdogInterval({ WATCHDOG_USEC: '0' }, 42)).toBeNull();
  });

  it('never throws when the helper is missing, and says so once', async () => {
    const r = rig({}, false);
    const n = createSystemdNotifier(r.env, { logger: r.logger });
    expect(() => {
      n.ready();
      n.watchdog();
      n.stopping();
    }).not.toThrow();
    await n.close();
    const missing = r.logs.filter((l) => l.event === 'systemd_notify_missing');
    expect(missing).toHaveLength(1);
    expect(missing[0]!.msg).toMatch(/systemd-notify not found on PATH/);
    expect(r.logs.filter((l) => l.event !== 'systemd_notify_missing')).toEqual([]);
  });

  it('logs a failing helper and goes on with the next message', async () => {
    const r = rig({ FAKE_NOTIFY_EXIT: '1' });
    const n = createSystemdNotifier(r.env, { logger: r.logger });
    n.ready();
    n.stopping();
    await n.close();
    expect(r.calls().map((l) => l.split('\t')[1])).toEqual(['READY=1', 'STOPPING=1']);
    expect(r.logs.filter((l) => l.event === 'systemd_notify_failed')).toHaveLength(2);
  });

  it('kills a helper that hangs, so later messages still go out', async () => {
    const r = rig({ FAKE_NOTIFY_HANG: '1' });
    const n = createSystemdNotifier(r.env, { logger: r.logger, timeoutMs: 200 });
    const started = Date.now();
    n.ready();
    n.stopping();
    await n.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.calls().map((l) => l.split('\t')[1])).toEqual(['READY=1', 'STOPPING=1']);
    expect(r.logs.some((l) => l.event === 'systemd_notify_timeout')).toBe(true);
  });
});
