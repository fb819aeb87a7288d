/**
 * A real Mosquitto broker (Debian's `mosquitto` package) for tests and the benchmark: started on a
 * free port on 127.0.0.1 with a generated config and its own persistence folder, so a restart
 * keeps persistent sessions and queued messages as a production broker would. Optional TLS (a
 * CA and server certificate made with openssl) and a password file (mosquitto_passwd).
 * Where the package is missing, `MOSQUITTO_MISSING` says why tests skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

const BINARY = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
export const HAS_MOSQUITTO = BINARY !== undefined;
export const MOSQUITTO_MISSING = 'mosquitto is not installed (Debian package "mosquitto"; .ci/run installs it)';

export interface MosquittoOptions {
  /** Serve TLS with a generated CA and server certificate for 127.0.0.1 / localhost. */
  tls?: boolean;
  /** user → password; anonymous clients are then refused. */
  users?: Record<string, string>;
  /** Extra lines for mosquitto.conf (e.g. max_inflight_messages 20). */
  extra?: string[];
}

export interface Mosquitto {
  port: number;
  url: string;
  dir: string;
  /** With `tls`: the CA file clients must trust. */
  caFile?: string;
  /** Stops it (SIGTERM: it saves its persistence file) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Starts it again after stop(), on the same port and with its persistence. */
  start(): Promise<void>;
  log(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr ?? r.error?.message}`);
}

/**
 * A CA and a server certificate made with openssl in `dir`, for `names` (subjectAltName entries:
 * [localhost and 127.0.0.1]; a name only, e.g. DNS:broker.plant.test, to test a `tls.server_name`).
 */
export function makeCertificates(dir: string, names: string[] = ['DNS:localhost', 'IP:127.0.0.1']): { ca: string; cert: string; key: string } {
  const p = (f: string) => path.join(dir, f);
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=senseye test CA']);
  run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', `/CN=${names[0]!.replace(/^[A-Z]+:/, '')}`]);
  writeFileSync(p('ext.cnf'), `subjectAltName=${names.join(',')}\n`);
  run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '2', '-extfile', p('ext.cnf')]);
  return { ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  if (BINARY === undefined) throw new Error(MOSQUITTO_MISSING);
  const dir = tempDir('senseye-mosquitto-');
  const data = path.join(dir, 'data');
  mkdirSync(data);
  const port = await freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    'persistence true',
    `persistence_location ${data}/`,
    'autosave_interval 0',
    'max_queued_messages 0',
    'max_queued_bytes 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  // Started as root, mosquitto drops to the "mosquitto" user, which cannot read our temp files.
  if (process.getuid?.() === 0) lines.push('user root');
  let caFile: string | undefined;
  if (options.tls === true) {
    const c = makeCertificates(dir);
    caFile = c.ca;
    lines.push(`cafile ${c.ca}`, `certfile ${c.cert}`, `keyfile ${c.key}`);
  }
  if (options.users !== undefined) {
    const file = path.join(dir, 'passwords');
    writeFileSync(file, '');
    for (const [user, password] of Object.entries(options.users)) run('mosquitto_passwd', ['-b', file, user, password]);
    lines.push(`password_file ${file}`, 'allow_anonymous false');
  } else {
    lines.push('allow_anonymous true');
  }
  lines.push(...(options.extra ?? []));
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  let child: ChildProcess | null = null;
  let log = '';
  const launch = async () => {
    const c = spawn(BINARY, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    child = c;
    await waitFor(async () => c.exitCode === null && (await accepting(port)), `mosquitto listening on 127.0.0.1:${port} (log: ${log})`, { timeoutMs: 10_000 });
    if (c.exitCode !== null) throw new Error(`mosquitto exited: ${log}`);
  };
  const stop = async () => {
    const c = child as ChildProcess | null;
    child = null;
    if (c === null || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    port,
    url: `${options.tls === true ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    dir,
    caFile,
    restart: async () => {
      await stop();
      await launch();
    },
    stop,
    start: launch,
    log: () => log,
  };
}
