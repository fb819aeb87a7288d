/**
 * Everything a benchmark creates (temporary folders, child processes) is registered in a scope,
 * and the scope is closed in a `finally`: children are killed (SIGTERM, then SIGKILL after a
 * grace period) and folders removed, whether the benchmark finished or threw. A process-wide
 * registry does the same on exit and on SIGINT/SIGTERM of the runner, so an interrupted
 * `npm run bench` leaves no agent, emulator or gigabyte of test data behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const liveChildren = new Set();
const liveDirs = new Set();

function killNow(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function emergencyCleanup() {
  for (const child of liveChildren) killNow(child);
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

process.on('exit', emergencyCleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}: killing child processes and removing temporary folders\n`);
    emergencyCleanup();
    process.exit(130);
  });
}

export class Scope {
  #children = new Set();
  #dirs = [];

  /** A fresh temporary folder, removed when the scope closes. */
  tempDir(prefix = 'senseye-bench-') {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.#dirs.push(dir);
    liveDirs.add(dir);
    return dir;
  }

  /** Tracks a child process: it is killed when the scope closes, if still running. */
  track(child) {
    this.#children.add(child);
    liveChildren.add(child);
    child.once('exit', () => {
      this.#children.delete(child);
      liveChildren.delete(child);
    });
    return child;
  }

  /** Stops every child still running (SIGTERM, SIGKILL after `graceMs`) and removes the folders. */
  async close(graceMs = 3000) {
    const waits = [];
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      waits.push(
        new Promise((resolve) => {
          const timer = setTimeout(() => {
            killNow(child);
            resolve();
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          try {
            child.kill('SIGTERM');
          } catch {
            resolve();
          }
        }),
      );
    }
    await Promise.all(waits);
    for (const dir of this.#dirs.splice(0)) {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
  }
}

/** Runs `fn(scope)` and always closes the scope. */
export async function withScope(fn) {
  const scope = new Scope();
  try {
    return await fn(scope);
  } finally {
    await scope.close();
  }
}
