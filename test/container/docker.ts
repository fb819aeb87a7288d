/**
 * The Docker side of the container tests: an engine (scripts/container/engine.sh: the running
 * one, else its own dockerd, stopped afterwards only if it was started here), the image built by
 * scripts/container/build-image.sh (the cached stand-in base, then `docker build`), and the
 * docker / docker-compose commands, run asynchronously: the hub emulator the containers talk to
 * lives in the test process and must keep answering while a command waits.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { ROOT } from '../helpers/agent-process.js';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`). */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000, cwd = ROOT): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${String(err)}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const SCRIPTS = path.join(ROOT, 'scripts', 'container');

export interface Engine {
  /** The docker client (Debian's, with BuildKit built in, when installed). */
  client: string;
  env: NodeJS.ProcessEnv;
  /** engine.sh started this dockerd: stop it afterwards. */
  started: boolean;
}

/** An engine to use, or why there is none here. */
export async function startEngine(): Promise<Engine | { skip: string }> {
  const r = await runCommand(path.join(SCRIPTS, 'engine.sh'), ['start'], process.env);
  if (r.code !== 0) return { skip: r.stderr.trim() || `engine.sh start exited ${r.code}` };
  const vars = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
  return { client: vars.DOCKER!, env: { ...process.env, DOCKER_HOST: vars.DOCKER_HOST }, started: vars.ENGINE_STARTED === '1' };
}

export async function stopEngine(engine: Engine): Promise<void> {
  if (!engine.started) return;
  const r = await runCommand(path.join(SCRIPTS, 'engine.sh'), ['stop'], engine.env);
  if (r.code !== 0) throw new Error(`engine.sh stop: ${r.stderr}`);
}

/** Exit code 3 from build-image.sh: the base image cannot be made here (a tool or root missing). */
export const CANNOT_BUILD_HERE = 3;

/** Builds the image (`tag`); the build's output goes to the error when it fails. */
export async function buildImage(engine: Engine, tag: string): Promise<Ran> {
  return runCommand(path.join(SCRIPTS, 'build-image.sh'), ['--tag', tag], { ...engine.env, BUILD_PROGRESS: 'plain' }, 30 * 60_000);
}

export class Docker {
  constructor(
    private readonly engine: Engine,
    /** Put on every container and volume the tests make, to remove them afterwards. */
    readonly label: string,
  ) {}

  run(args: string[], timeoutMs?: number): Promise<Ran> {
    return runCommand(this.engine.client, args, this.engine.env, timeoutMs);
  }

  /** `docker …`, failing with its stderr unless it exits 0; its stdout, trimmed. */
  async ok(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  }

  async inspect<T = unknown>(what: string): Promise<T> {
    return (JSON.parse(await this.ok(['inspect', what])) as T[])[0]!;
  }

  async volume(name: string): Promise<string> {
    await this.ok(['volume', 'create', '--label', this.label, name]);
    return name;
  }

  /** Removes every container and volume carrying the label. */
  async removeAll(): Promise<void> {
    const ids = (await this.ok(['ps', '-aq', '--filter', `label=${this.label}`])).split('\n').filter(Boolean);
    if (ids.length > 0) await this.ok(['rm', '-f', '-v', ...ids]);
    const vols = (await this.ok(['volume', 'ls', '-q', '--filter', `label=${this.label}`])).split('\n').filter(Boolean);
    if (vols.length > 0) await this.ok(['volume', 'rm', '-f', ...vols]);
  }

  compose(project: string, dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
    return runCommand('docker-compose', ['--project-name', project, ...args], { ...this.engine.env, ...env }, 180_000, dir);
  }
}

/** A TCP port free on 127.0.0.1 right now (containers on the host network bind it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
