/**
 * In-process micro-benchmarks (parse, outbox) run in a fresh Node process each, so one format's
 * JIT and heap state cannot help or hurt the next, pinned to one CPU with `taskset` when it is
 * available ("readings/s on one core" then means exactly that: V8's GC helper threads share the
 * same core). The worker prints one JSON line with its result as its last stdout line.
 */
import { spawn, execFileSync } from 'node:child_process';
import os from 'node:os';

let taskset = null;
try {
  execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  taskset = 'taskset';
} catch {
  taskset = null;
}

/** The CPU micro-benchmarks are pinned to (BENCH_CPU, default the last one), or null if not pinned. */
export function pinnedCpu() {
  if (taskset === null || process.env.BENCH_PIN === '0') return null;
  return Number(process.env.BENCH_CPU ?? os.availableParallelism() - 1);
}

/** Runs `node <file> --worker <json>` and returns its JSON result. */
export function runWorker(scope, file, params, { timeoutMs = 300_000, nodeArgs = [] } = {}) {
  const cpu = pinnedCpu();
  const argv = [...nodeArgs, file, '--worker', JSON.stringify(params)];
  const [cmd, args] = cpu === null ? [process.execPath, argv] : ['taskset', ['-c', String(cpu), process.execPath, ...argv]];
  const child = scope.track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`worker ${file} exited ${code ?? signal}: ${err.slice(-1500)}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`worker ${file}: no JSON result (${last.slice(0, 200)}); stderr: ${err.slice(-1000)}`));
      }
    });
  });
}

/** In a worker: the params when this process was started as one, else null. */
export function workerParams() {
  const i = process.argv.indexOf('--worker');
  return i === -1 ? null : JSON.parse(process.argv[i + 1]);
}

/** In a worker: prints the result line and exits. */
export function workerDone(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
