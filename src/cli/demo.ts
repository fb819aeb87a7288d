/**
 * `senseye-agent demo` (what `npm start` runs): the real agent on config.example.yaml, reading
 * the sample data in examples/ and delivering it to a hub. Without Senseye credentials
 * (SENSEYE_HUB_URL and SENSEYE_TOKEN) the hub is the built-in emulator, started as its own
 * process on 127.0.0.1. Nothing is faked: the agent is the same code that talks to
 * api.senseye.io. The state directory is fresh each time so the demo always has work to show.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { request } from 'undici';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { EXIT } from './exit-codes.js';
import { runAgent } from './run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'senseye-agent');

interface DemoArgs {
  config: string;
  keep: boolean;
}

interface EmulatorProcess {
  url: string;
  token: string;
  child: ChildProcess;
}

export async function startEmulatorProcess(extraArgs: string[] = []): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0', ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited with code ${code} before it was ready`)));
  });
  lines.close();
  child.stdout!.resume();
  const { url, token } = JSON.parse(first) as { url: string; token: string };
  return { url, token, child };
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Run the agent on config.example.yaml against the built-in hub emulator (or Senseye, if SENSEYE_HUB_URL and SENSEYE_TOKEN are set) until the sample data is delivered',
  builder: (y) =>
    y
      .option('config', { type: 'string', default: path.join(ROOT, 'config.example.yaml'), describe: 'Config file to run' })
      .option('keep', { type: 'boolean', default: false, describe: 'Keep the temporary state directory (its path is printed)' }),
  handler: async (args) => {
    const useRealHub = Boolean(process.env.SENSEYE_HUB_URL && process.env.SENSEYE_TOKEN);
    const emulator = useRealHub ? null : await startEmulatorProcess();
    const stateDir = process.env.SENSEYE_STATE_DIR ?? mkdtempSync(path.join(tmpdir(), 'senseye-agent-demo-'));
    const env = {
      ...process.env,
      SENSEYE_STATE_DIR: stateDir,
      // Any free port: a demo must not fail because something else listens on 9464.
      SENSEYE_HTTP_LISTEN: process.env.SENSEYE_HTTP_LISTEN ?? '127.0.0.1:0',
      ...(emulator ? { SENSEYE_HUB_URL: emulator.url, SENSEYE_TOKEN: emulator.token } : {}),
    };
    process.stderr.write(
      `demo: hub ${emulator ? `emulator at ${emulator.url}` : env.SENSEYE_HUB_URL}; state in ${stateDir}; config ${args.config}\n`,
    );
    try {
      const config = loadConfig(args.config, env).config;
      const code = await runAgent({ config, exitWhenIdle: true, env });
      if (emulator) {
        const res = await request(`${emulator.url}/_emulator/snapshot?summary=1`);
        const summary = (await res.body.json()) as { counters?: { datapointsAccepted?: number }; sensors?: unknown[] };
        const accepted = summary.counters?.datapointsAccepted ?? 0;
        const sensors = Array.isArray(summary.sensors) ? summary.sensors.length : 0;
        process.stdout.write(`demo: the hub emulator accepted ${accepted} readings for ${sensors} sensors\n`);
      }
      process.exitCode = code;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exitCode = EXIT.config;
        return;
      }
      throw err;
    } finally {
      emulator?.child.kill('SIGTERM');
      if (!args.keep && process.env.SENSEYE_STATE_DIR === undefined) rmSync(stateDir, { recursive: true, force: true });
    }
  },
};
