/**
 * `senseye-agent config check --config FILE`: validates the config and everything it points to
 * (token readable and what it allows, hub.tls files readable, state dir writable, listen addresses free, input paths
 * present, MQTT brokers reachable with the source's credentials and what they publish), printing every problem at once. Exit 0, or 78 when anything would stop the agent.
 */
import { accessSync, constants, existsSync, statSync, type Stats } from 'node:fs';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { createServer } from 'node:net';
import fg from 'fast-glob';
import pino from 'pino';
import type { CommandModule } from 'yargs';
import { reportToken } from '../auth/capabilities.js';
import { createCredentialProvider } from '../auth/credentials.js';
import type { Config } from '../config/schema.js';
import { hubTlsProblems } from '../net/tls.js';
import { parseListen } from '../config/listen-address.js';
import { probeBroker } from '../sources/mqtt/broker-probe.js';
import { configOption, loadConfigOrReport } from './common.js';
import { EXIT } from './exit-codes.js';

interface CheckArgs {
  config: string;
}

export interface Finding {
  level: 'ok' | 'warning' | 'problem';
  what: string;
}

export async function checkConfig(config: Config, env: NodeJS.ProcessEnv): Promise<Finding[]> {
  const out: Finding[] = [];
  // Token.
  if (config.hub.auth.type === 'machine') {
    try {
      const provider = await createCredentialProvider(config, env, pino({ level: 'silent' }));
      const token = provider.current()!;
      const r = reportToken(token);
      out.push({ level: 'ok', what: `token ${r.fingerprint} (${r.kind}) from ${r.origin}` });
      if (r.expired) out.push({ level: 'problem', what: `token ${r.fingerprint} expired at ${r.expiresAt}` });
      if (r.canStoreData === false && !r.expired) out.push({ level: 'problem', what: 'token lacks Internal Hub Write: no data can be sent' });
      const needsCreate = config.hub.addressing === 'sensor_id';
      if (r.canCreateSensors === false && needsCreate) {
        out.push({ level: 'warning', what: 'token lacks Internal Hub Create: only sensors with sensors.<name>.sensor_id in the config can be delivered' });
      }
    } catch (err) {
      out.push({ level: 'problem', what: (err as Error).message });
    }
  } else if (!existsSync(config.hub.auth.password_file)) {
    out.push({ level: 'problem', what: `hub.auth.password_file ${config.hub.auth.password_file} does not exist` });
  }
  // Hub TLS files (CA, client certificate and key).
  if (config.hub.tls !== undefined) {
    const problems = hubTlsProblems(config.hub.tls);
    for (const p of problems) out.push({ level: 'problem', what: p });
    const files = Object.entries(config.hub.tls).filter(([, f]) => f !== undefined);
    if (problems.length === 0 && files.length > 0) out.push({ level: 'ok', what: `hub.tls: ${files.map(([k, f]) => `${k} ${f}`).join(', ')} readable` });
  }
  // State directory: looked at, never created (a check changes nothing on disk).
  out.push(stateDirFinding(config.state_dir));
  // Listen addresses, TCP and UDP, bound for a moment as run would bind them.
  const listens: Array<{ setting: string; address: string; udp: boolean }> = [];
  if (config.http.listen !== null) listens.push({ setting: 'http.listen', address: config.http.listen, udp: false });
  config.sources.forEach((s, i) => {
    if (s.type === 'tcp' || s.type === 'udp') listens.push({ setting: `sources[${i}].listen`, address: `${s.listen.host}:${s.listen.port}`, udp: s.type === 'udp' });
  });
  for (const l of listens) {
    const free = l.udp ? await udpPortFree(l.address) : await portFree(l.address);
    const what = `${l.setting} ${l.udp ? 'udp' : 'tcp'} ${l.address}`;
    out.push(free === null ? { level: 'ok', what: `${what} is free` } : { level: 'problem', what: `${what}: ${free}` });
  }
  // Unix socket paths: run replaces a stale socket there, but nothing else.
  config.sources.forEach((s, i) => {
    if (s.type === 'unix') out.push(unixPathFinding(`sources[${i}] (${s.name})`, s.path));
  });
  // Input paths.
  for (const [i, s] of config.sources.entries()) {
    if (s.type === 'file') {
      const patterns = Array.isArray(s.path) ? s.path : [s.path];
      const files = await fg(patterns, { onlyFiles: true, suppressErrors: true });
      if (files.length === 0) {
        const dirs = patterns.map(staticBase).filter((d) => !existsSync(d));
        out.push({
          level: dirs.length > 0 ? 'problem' : 'warning',
          what: dirs.length > 0 ? `sources[${i}] (${s.name}): folder ${dirs[0]} does not exist` : `sources[${i}] (${s.name}): no file matches ${patterns.join(', ')} yet`,
        });
      } else out.push({ level: 'ok', what: `sources[${i}] (${s.name}): ${files.length} files match` });
    } else if (s.type === 'spool' && !existsSync(s.path)) {
      out.push({ level: 'problem', what: `sources[${i}] (${s.name}): spool folder ${s.path} does not exist` });
    } else if (s.type === 'mqtt') {
      const found = await probeBroker(s);
      for (const line of found.lines) out.push({ level: found.ok ? 'ok' : 'problem', what: `sources[${i}] (${s.name}): ${line}` });
    } else if (s.type === 'tcp' && s.tls !== undefined) {
      for (const f of [s.tls.cert, s.tls.key, s.tls.client_ca].filter((x): x is string => x !== undefined)) {
        if (!existsSync(f)) out.push({ level: 'problem', what: `sources[${i}] (${s.name}): TLS file ${f} does not exist` });
      }
    }
  }
  return out;
}

function stateDirFinding(dir: string): Finding {
  const stat = statOrNull(dir);
  if (stat !== null) {
    if (!stat.isDirectory()) return { level: 'problem', what: `state_dir ${dir} is not a folder` };
    return writable(dir) ? { level: 'ok', what: `state_dir ${dir} is writable` } : { level: 'problem', what: `state_dir ${dir} is not writable by this user` };
  }
  // Not there yet: run creates it (0700) if its nearest existing parent is writable.
  let parent = path.dirname(path.resolve(dir));
  while (statOrNull(parent) === null && parent !== path.dirname(parent)) parent = path.dirname(parent);
  return writable(parent)
    ? { level: 'ok', what: `state_dir ${dir} does not exist yet; run creates it (${parent} is writable)` }
    : { level: 'problem', what: `state_dir ${dir} does not exist and ${parent} is not writable: create it for the agent's user` };
}

function unixPathFinding(label: string, socketPath: string): Finding {
  const stat = statOrNull(socketPath);
  if (stat !== null && !stat.isSocket()) return { level: 'problem', what: `${label}: ${socketPath} exists and is not a socket (run will not replace it)` };
  const dir = path.dirname(socketPath);
  const dirStat = statOrNull(dir);
  if (dirStat === null || !dirStat.isDirectory()) return { level: 'problem', what: `${label}: folder ${dir} does not exist` };
  if (!writable(dir)) return { level: 'problem', what: `${label}: folder ${dir} is not writable (the socket is created there)` };
  return { level: 'ok', what: `${label}: ${socketPath} ${stat === null ? 'can be created' : 'is a socket (a stale one is replaced)'}` };
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK | constants.R_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** null when a UDP socket can be bound there now, else why not. */
function udpPortFree(address: string): Promise<string | null> {
  const parsed = parseListen(address);
  if (typeof parsed === 'string') return Promise.resolve(parsed);
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(parsed.host) ? 'udp6' : 'udp4');
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(err.code === 'EADDRINUSE' ? 'already in use' : `cannot listen (${err.code})`);
    });
    socket.bind(parsed.port, parsed.host, () => socket.close(() => resolve(null)));
  });
}

/** The folder part of a glob before its first wildcard segment: /data/press/*.jsonl → /data/press. */
function staticBase(pattern: string): string {
  const segments = pattern.split('/');
  const wild = segments.findIndex((seg) => /[*?[{]/.test(seg));
  return (wild === -1 ? segments.slice(0, -1) : segments.slice(0, wild)).join('/') || '/';
}

/** null when the address can be bound now, else why not. */
function portFree(address: string): Promise<string | null> {
  const parsed = parseListen(address);
  if (typeof parsed === 'string') return Promise.resolve(parsed);
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? 'already in use' : `cannot listen (${err.code})`));
    server.listen(parsed.port, parsed.host, () => server.close(() => resolve(null)));
  });
}

const check: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Validate the config and everything it points to (token, state dir, listen addresses, input paths, MQTT brokers)',
  builder: (y) => y.option('config', configOption),
  handler: async (args) => {
    const config = loadConfigOrReport(args.config);
    if (config === null) return;
    const findings = await checkConfig(config, process.env);
    for (const f of findings) process.stdout.write(`${f.level === 'ok' ? 'ok     ' : f.level === 'warning' ? 'warning' : 'PROBLEM'}  ${f.what}\n`);
    const problems = findings.filter((f) => f.level === 'problem').length;
    process.stdout.write(problems === 0 ? `${args.config}: ready to run\n` : `${args.config}: ${problems} problem${problems === 1 ? '' : 's'}\n`);
    process.exitCode = problems === 0 ? EXIT.ok : EXIT.config;
  },
};

export const configCommand: CommandModule = {
  command: 'config <command>',
  describe: 'Check a configuration',
  builder: (y) => y.command(check).demandCommand(1),
  handler: () => undefined,
};
