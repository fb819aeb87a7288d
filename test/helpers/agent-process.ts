/**
 * Runs the real `bin/senseye-agent` as a child process (the built dist/), capturing its
 * output, so tests exercise exactly what a user runs, signals and exit codes included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'senseye-agent');

export interface AgentProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** Run the agent under `prlimit --nofile=N:N` (its open-files limit, soft and hard). */
  nofile?: number;
}

export function spawnAgent(args: string[], env: NodeJS.ProcessEnv = {}, options: SpawnOptions = {}): AgentProcess {
  // prlimit sets the limit and then execs node: the child's pid is the agent's.
  const [command, argv] =
    options.nofile === undefined ? [process.execPath, [BIN, ...args]] : ['prlimit', [`--nofile=${options.nofile}:${options.nofile}`, '--', process.execPath, BIN, ...args]];
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
}

/** Runs a command to its end. */
export async function runAgentCommand(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = spawnAgent(args, env);
  const { code, signal } = await p.exited;
  return { code, signal, stdout: p.stdout(), stderr: p.stderr() };
}

export interface TestConfigOptions {
  hubUrl: string;
  stateDir: string;
  sources: Array<Record<string, unknown>>;
  hub?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

/** Writes a config file for a test; polling intervals are short so tests finish quickly. */
export function writeConfig(file: string, o: TestConfigOptions): string {
  const config = {
    hub: { url: o.hubUrl, batch: { max_wait: '50ms' }, retry: { initial_delay: '50ms', max_delay: '2s' }, ...o.hub },
    state_dir: o.stateDir,
    // Short polling so tests finish quickly (file sources only: other types have no such keys).
    sources: o.sources.map((s) => (s.type === 'file' ? { poll_interval: '50ms', refresh_interval: '100ms', ...s } : s)),
    pipeline: { max_wait: '20ms' },
    shutdown_timeout: '5s',
    // Parallel tests must not compete for the default health port.
    http: { listen: null },
    ...o.extra,
  };
  writeFileSync(file, stringify(config));
  return file;
}
