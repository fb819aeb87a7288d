/**
 * Tests run the current source, however vitest is started. The planner and UDP worker threads
 * and every end-to-end test run the built agent (dist/), so `npx vitest run` after an edit
 * would otherwise test the previous build: when any file under src/ is newer than the bundle,
 * the build runs first (`npm test` builds anyway, in its pretest step).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BUILT = ['dist/bundle/senseye-agent.js', 'dist/bundle/planner-worker.js', 'dist/bundle/udp-receiver-worker.js'];

function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function oldestBuilt(): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const f of BUILT) {
    try {
      oldest = Math.min(oldest, statSync(path.join(ROOT, f)).mtimeMs);
    } catch {
      return 0; // missing: build
    }
  }
  return oldest;
}

export default function setup(): void {
  if (newestUnder(path.join(ROOT, 'src')) <= oldestBuilt()) return;
  process.stderr.write('test setup: src/ is newer than dist/: building first (npm run build)\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
