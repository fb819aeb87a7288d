/**
 * The real agent (`bin/senseye-agent`) as a child process: its config written as JSON (valid
 * YAML), its JSON log lines read as events, its memory and CPU sampled from /proc, optionally
 * a CPU profile (`node --cpu-prof`), and on a normal exit its own rusage (maxRSS, CPU time).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BIN, ROOT, RUSAGE_HOOK } from './paths.js';
import { sampleProcess } from './procfs.js';
import { waitFor } from './timing.js';

/**
 * Writes an agent config. Defaults are the product's defaults except what a benchmark on a
 * shared machine needs: no health port (parallel runs would collide), file sources polled at
 * their defaults. `hub`, `pipeline`, `outbox` are merged over nothing: pass only what differs.
 */
export function writeAgentConfig(file, { hubUrl, stateDir, sources, hub = {}, pipeline, outbox, extra = {} }) {
  // BENCH_PLANNER_THREAD=true|false: hub.planner_thread for every agent a benchmark starts (A/B runs).
  const planner = process.env.BENCH_PLANNER_THREAD === undefined ? {} : { planner_thread: process.env.BENCH_PLANNER_THREAD === 'true' };
  const config = {
    hub: { url: hubUrl, ...planner, ...hub },
    state_dir: stateDir,
    sources,
    ...(pipeline ? { pipeline } : {}),
    ...(outbox ? { outbox } : {}),
    http: { listen: null },
    ...extra,
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/**
 * Starts `senseye-agent <args>`. Options: env (added to PATH/HOME), cpuProfDir (enables
 * --cpu-prof), sampleMs (RSS/CPU sampling interval), rusageFile, nodeArgs (diagnostics such as
 * --trace-gc).
 */
export function startAgent(scope, args, { env = {}, cpuProfDir, sampleMs = 100, rusageFile, nodeArgs: extraNodeArgs = [] } = {}) {
  const nodeArgs = ['--import', RUSAGE_HOOK, ...extraNodeArgs];
  if (cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', cpuProfDir);
  const spawnedAt = Date.now();
  const child = scope.track(
    spawn(process.execPath, [...nodeArgs, BIN, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        // BENCH_AGENT_NODE_OPTIONS: try V8 settings (e.g. --max-semi-space-size=4) on the agent only.
        ...(process.env.BENCH_AGENT_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS } : {}),
        ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
        ...(rusageFile ? { BENCH_RUSAGE_FILE: rusageFile } : {}),
        // A profile of the one-file bundle would name a single file: profiled runs load the
        // modules one by one instead (start-up is then ~0.2 s longer; scripts/bundle.js).
        ...(cpuProfDir || process.env.SENSEYE_AGENT_UNBUNDLED === '1' ? { SENSEYE_AGENT_UNBUNDLED: '1' } : {}),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const sampler = sampleProcess(child.pid, sampleMs);
  const events = new Map();
  const history = []; // every log line with an event, newest 20,000
  const tail = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  createInterface({ input: child.stdout }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    if (!line.startsWith('{')) return;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof entry.event !== 'string') return;
    const e = { ...entry, timeMs: Date.parse(entry.time), seenAt: Date.now() };
    if (!events.has(entry.event)) events.set(entry.event, e);
    history.push(e);
    if (history.length > 20_000) history.shift();
  });
  let exit = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      sampler.stop();
      exit = { code, signal, at: Date.now() };
      resolve(exit);
    }),
  );
  const diagnosis = () => `exit ${exit ? exit.code ?? exit.signal : 'running'}; stderr: ${stderr.slice(-1500)}; last log lines:\n${tail.slice(-8).join('\n')}`;

  return {
    child,
    pid: child.pid,
    spawnedAt,
    sampler,
    events,
    exited,
    get exit() {
      return exit;
    },
    diagnosis,
    /** Every log line (of the newest 20,000) with this event, oldest first; `timeMs` is its pino time. */
    eventsNamed(name) {
      return history.filter((e) => e.event === name);
    },
    /** Waits for the first log line with this event; returns it (with its pino `time`). */
    waitEvent(name, timeoutMs) {
      return waitFor(() => events.get(name), {
        what: `agent event ${name}`,
        timeoutMs,
        intervalMs: 20,
        abort: () => (exit ? `the agent exited first (${diagnosis()})` : null),
      });
    },
    signal(sig) {
      if (exit === null) child.kill(sig);
    },
    /** SIGTERM and wait (SIGKILL after `graceMs`). */
    async stop(graceMs = 20_000) {
      if (exit !== null) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    /** process.resourceUsage() of the agent after a normal exit, or null. */
    rusage() {
      if (!rusageFile || !existsSync(rusageFile)) return null;
      return JSON.parse(readFileSync(rusageFile, 'utf8'));
    },
  };
}

/**
 * The .cpuprofile of each thread of the newest agent process in a folder: `node --cpu-prof` names
 * them CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, thread 0 being the main thread (the
 * others: the planner worker). [{ thread: 'main' | 'worker <id>', file }], main first.
 */
export function threadProfilesIn(dir) {
  const newest = cpuProfileIn(dir);
  if (newest === null) return [];
  const pid = path.basename(newest).split('.')[3];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === pid)
    .map((f) => ({ threadId: Number(f.split('.')[4]), file: path.join(dir, f) }))
    .sort((a, b) => a.threadId - b.threadId)
    .map(({ threadId, file }) => ({ thread: threadId === 0 ? 'main' : `worker ${threadId}`, file }));
}

export function threadLabel(thread) {
  return thread === 'main' ? 'main thread (sources, parsing, outbox writes, requests, acknowledgements)' : `${thread}: the planner (claiming and encoding rounds)`;
}

/** The newest .cpuprofile in a folder (written by --cpu-prof when the process exits normally). */
export function cpuProfileIn(dir) {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0] ?? null;
}
