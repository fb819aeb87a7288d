/**
 * A Mosquitto broker for the MQTT benchmark (Debian's `mosquitto` package), on a free port on
 * 127.0.0.1, in a scope (killed and removed with it). No persistence: the benchmark measures
 * throughput, not restarts. `null` where the package is not installed.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from './timing.js';

export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p)) ?? null;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepting(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

export async function startMosquitto(scope) {
  const dir = scope.tempDir('senseye-bench-mosquitto-');
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'max_queued_messages 0', 'max_queued_bytes 0', 'log_dest stderr', 'log_type error'];
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const child = scope.track(spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  await waitFor(async () => child.exitCode === null && (await accepting(port)), { what: `mosquitto on 127.0.0.1:${port} (${log})`, timeoutMs: 10_000 });
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid };
}
