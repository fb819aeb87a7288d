/** What machine and what load a figure was measured on (nproc, memory, CPU, Node, load average). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { ROOT } from './paths.js';

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).replace(/^\n+|\s+$/g, '');
  } catch {
    return null;
  }
}

export function cpuModel() {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

/** `uptime`'s line (load averages over 1, 5, 15 minutes). */
export function load() {
  return run('uptime', [])?.trim() ?? `load average: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`;
}

export function loadAverages() {
  return os.loadavg().map((l) => Number(l.toFixed(2)));
}

export function describeMachine() {
  const commit = run('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = run('git', ['status', '--porcelain', '--', 'src']);
  return {
    date: new Date().toISOString(),
    nproc: run('nproc', []) ?? String(os.availableParallelism()),
    cpu: cpuModel(),
    memory: run('free', ['-h']) ?? `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    commit: commit === null ? 'unknown' : `${commit}${dirty ? ' + uncommitted changes in src/' : ''}`,
    load: load(),
  };
}
