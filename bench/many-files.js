#!/usr/bin/env node
/**
 * `node bench/many-files.js [--files 20000] [--nofile 1024] [--max-open-files N] [--timeout 600]`
 *
 * Issue 14, item 2: one glob over many one-line files, the agent under a low open-files limit
 * (`prlimit --nofile=L:L`). Runs the real agent (bin/senseye-agent, this checkout's dist/) against
 * the hub emulator (its own process, counters only) and reports: whether every reading arrived
 * exactly once (the emulator's unique points and overwrites), the time until the last one did,
 * the agent's peak RSS and peak number of open descriptors (sampled from /proc/<pid> every
 * 100 ms), and what the agent logged about descriptors (file_open_failed, descriptors_exhausted,
 * source_waiting, EMFILE anywhere). Prints one JSON object; exit 0 when exactly once, 1 otherwise.
 * Not part of `npm run bench` (bench/run.js): its result is recorded by hand in bench/RESULTS.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { jsonlLine, shape } from './lib/data.js';
import { startEmulator, uniqueAndDuplicates } from './lib/emulator.js';
import { BIN, ROOT } from './lib/paths.js';
import { readProc } from './lib/procfs.js';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const FILES = option('files', 20_000);
const NOFILE = option('nofile', 1024);
/** Absent: the source's default (and the key is not written, so the script also runs against agents without it). */
const MAX_OPEN = option('max-open-files', undefined);
const TIMEOUT_S = option('timeout', 600);

const scope = {
  children: [],
  track(child) {
    this.children.push(child);
    return child;
  },
};

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'senseye-many-files-'));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  const s = shape(8, 4);
  for (let i = 0; i < FILES; i++) writeFileSync(path.join(data, `r${String(i).padStart(6, '0')}.jsonl`), `${jsonlLine(i, s)}\n`);

  const emu = await startEmulator(scope);
  const config = path.join(dir, 'agent.json');
  writeFileSync(
    config,
    JSON.stringify({
      hub: { url: emu.url },
      state_dir: path.join(dir, 'state'),
      sources: [{ name: 'many', type: 'file', path: path.join(data, '*.jsonl'), format: 'jsonl', ...(MAX_OPEN === undefined ? {} : { max_open_files: MAX_OPEN }) }],
      http: { listen: null },
    }),
  );
  const started = Date.now();
  const agent = scope.track(
    spawn('prlimit', [`--nofile=${NOFILE}:${NOFILE}`, '--', process.execPath, BIN, 'run', '--config', config], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SENSEYE_TOKEN: emu.token,
        // BENCH_AGENT_NODE_OPTIONS: e.g. --max-old-space-size=64, or --cpu-prof --cpu-prof-dir=/tmp/prof (then unbundled, for readable names).
        ...(process.env.BENCH_AGENT_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS } : {}),
        ...(process.env.BENCH_AGENT_NODE_OPTIONS?.includes('--cpu-prof') ? { SENSEYE_AGENT_UNBUNDLED: '1' } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const exited = new Promise((resolve) => agent.once('exit', (code, signal) => resolve(code ?? signal)));
  const events = new Map();
  let emfileLines = 0;
  let stderr = '';
  agent.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  createInterface({ input: agent.stdout }).on('line', (line) => {
    if (line.includes('EMFILE') || line.includes('ENFILE')) emfileLines++;
    const m = /"event":"([a-z_]+)"/.exec(line);
    if (m) events.set(m[1], (events.get(m[1]) ?? 0) + 1);
  });
  let peakRssKiB = 0;
  let peakFds = 0;
  const sampler = setInterval(() => {
    const p = readProc(agent.pid);
    if (p !== null) peakRssKiB = Math.max(peakRssKiB, p.rssKiB, p.hwmKiB);
    peakFds = Math.max(peakFds, fdCount(agent.pid));
  }, 100);

  let counters = { datapointsAccepted: 0, overwrites: 0 };
  const deadline = Date.now() + TIMEOUT_S * 1000;
  while (Date.now() < deadline && agent.exitCode === null) {
    counters = (await emu.summary()).counters;
    if (counters.datapointsAccepted >= FILES) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const deliveredAfterS = (Date.now() - started) / 1000;
  // A little longer: anything delivered twice would show as an overwrite.
  await new Promise((r) => setTimeout(r, 2000));
  counters = (await emu.summary()).counters;
  const rssNow = readProc(agent.pid)?.rssKiB ?? 0;
  clearInterval(sampler);
  if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
  const exit = await exited;
  await emu.stop();
  const { unique, duplicates } = uniqueAndDuplicates(counters);
  const result = {
    files: FILES,
    nofile: NOFILE,
    max_open_files: MAX_OPEN ?? 'default',
    unique_delivered: unique,
    duplicates,
    exactly_once: unique === FILES && duplicates === 0,
    all_delivered_after_s: Number(deliveredAfterS.toFixed(1)),
    peak_rss_mib: Number((peakRssKiB / 1024).toFixed(1)),
    rss_at_end_mib: Number((rssNow / 1024).toFixed(1)),
    peak_open_descriptors: peakFds,
    file_open_failed: events.get('file_open_failed') ?? 0,
    descriptors_exhausted: events.get('descriptors_exhausted') ?? 0,
    source_waiting: events.get('source_waiting') ?? 0,
    log_lines_with_emfile: emfileLines,
    agent_exit: exit,
    node: process.version,
    agent_node_options: process.env.BENCH_AGENT_NODE_OPTIONS ?? null,
    cpus: os.cpus().length,
    load_after: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
  if (exit !== 0) result.stderr = stderr;
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  return result.exactly_once ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    for (const c of scope.children) if (c.exitCode === null) c.kill('SIGKILL');
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  },
);
