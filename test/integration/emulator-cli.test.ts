/**
 * The `emulator` command: in-process through serveEmulator (injected signals and stdout), and as
 * a real child process (SIGTERM -> exit 0). The child loads the TypeScript sources through
 * Vite's module runner, which vitest already ships, so no build step is needed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { serveEmulator } from '../../src/emulator/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI_MODULE = fileURLToPath(new URL('../../src/cli/emulator.ts', import.meta.url));

function claimsOf(token: string): Record<string, unknown> {
  const body = Buffer.from(token.split('.')[2] as string, 'base64url');
  return JSON.parse(body.subarray(0, body.length - 64).toString('utf8')) as Record<string, unknown>;
}

async function postSensor(url: string, token: string): Promise<number> {
  const res = await request(`${url}/v1/hub/sensors`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'cli', ingest: 'timeseries' }),
  });
  await res.body.dump();
  return res.statusCode;
}

describe('serveEmulator (in-process)', () => {
  it('prints the ready line first, one line per request when verbose, and stops on SIGTERM', async () => {
    const lines: string[] = [];
    const signals = new EventEmitter();
    const done = serveEmulator({ verbose: true, permissions: ['Internal Hub Create'] }, { out: (l) => lines.push(l), signals });
    await expect.poll(() => lines.length).toBe(1);
    const ready = JSON.parse(lines[0] as string) as { url: string; token: string; publicKey: string };
    expect(Object.keys(ready)).toEqual(['url', 'token', 'publicKey']);
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.token).toMatch(/^v4\.public\./);
    expect(ready.publicKey).toMatch(/^k4\.public\./);

    expect(await postSensor(ready.url, ready.token)).toBe(201);
    await expect.poll(() => lines.length, { timeout: 5000 }).toBe(2);
    expect(JSON.parse(lines[1] as string)).toMatchObject({ method: 'POST', path: '/v1/hub/sensors', status: 201 });
    expect(lines[1]).not.toContain(ready.token);

    signals.emit('SIGTERM');
    await done;
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
    await expect(postSensor(ready.url, ready.token)).rejects.toThrow();
  });
});

describe('serveEmulator stop during start-up', () => {
  it('listens for signals before it is ready: a SIGTERM while starting stops it without a ready line', async () => {
    const lines: string[] = [];
    const signals = new EventEmitter();
    const done = serveEmulator({}, { out: (l) => lines.push(l), signals });
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    signals.emit('SIGTERM');
    await done;
    expect(lines).toEqual([]);
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
  });
});

describe('emulator command (child process)', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  /** Runs `emulator ...args` through yargs in a child Node process, from the repository root. */
  function runCli(args: string[]): ChildProcessWithoutNullStreams {
    const script = [
      "import { runnerImport } from 'vite';",
      "import yargs from 'yargs';",
      `const { module } = await runnerImport(${JSON.stringify(CLI_MODULE)});`,
      "await yargs(process.argv.slice(1)).command(module.emulatorCommand).strict().demandCommand(1).exitProcess(true).parseAsync();",
    ].join('\n');
    child = spawn(process.execPath, ['--input-type=module', '-e', script, 'emulator', ...args], { cwd: ROOT, stdio: 'pipe' });
    return child;
  }

  it('prints {"url","token","publicKey"} first, logs requests with --verbose, exits 0 on SIGTERM', async () => {
    const proc = runCli(['--port', '0', '--permissions', 'write,create', '--expires-in', '1h', '--verbose', '--response-shape', 'documented']);
    const stdout = createInterface({ input: proc.stdout });
    const lines: string[] = [];
    stdout.on('line', (l) => lines.push(l));
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await expect.poll(() => lines.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);

    const ready = JSON.parse(lines[0] as string) as { url: string; token: string; publicKey: string };
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const claims = claimsOf(ready.token);
    expect(claims.permissions).toEqual(['Internal Hub Write', 'Internal Hub Create']);
    const ttl = Date.parse(claims.exp as string) - Date.parse(claims.iat as string);
    expect(ttl).toBe(3_600_000);

    expect(await postSensor(ready.url, ready.token)).toBe(201);
    await expect.poll(() => lines.length, { timeout: 5000 }).toBe(2);
    expect(JSON.parse(lines[1] as string)).toMatchObject({ path: '/v1/hub/sensors', status: 201 });

    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(lines).toHaveLength(2);
  });

  it('exits non-zero with a message for a bad --expires-in', async () => {
    const proc = runCli(['--expires-in', 'soon']);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/expected a duration like 90s, 15m, 1h, 7d/);
    expect(stdout).toBe('');
  });
});
