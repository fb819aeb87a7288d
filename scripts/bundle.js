#!/usr/bin/env node
/**
 * `npm run build`, second step: bundles the compiled agent (dist/cli/main.js) and its planner
 * worker (dist/hub/planner-worker.js) with their dependencies into dist/bundle/, one file each.
 *
 * Why: starting the agent loaded ~1,170 files (rxjs, undici, zod, yaml, ... one module each),
 * ~0.4 s of its ~0.47 s start-up on this machine and far more on a gateway's SD card. One file
 * loads in about half that, and the idle agent is ~10 MiB smaller (docs/performance.md, item 20).
 * esbuild is the bundler Vite and vitest already use (well kept, one binary, ~0.3 s here).
 *
 * bin/senseye-agent runs the bundle, or dist/cli/main.js when the bundle is missing or
 * SENSEYE_AGENT_UNBUNDLED=1 (profiles then name each module: `npm run bench` does that for its
 * profiled runs). better-sqlite3 stays in node_modules: it loads a native addon.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

await build({
  entryPoints: {
    'senseye-agent': path.join(dist, 'cli', 'main.js'),
    // planner.ts starts it as ./planner-worker.js next to itself: in the bundle, next to senseye-agent.js.
    'planner-worker': path.join(dist, 'hub', 'planner-worker.js'),
  },
  outdir: path.join(dist, 'bundle'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  // CommonJS dependencies call require() for Node's own modules: give the ESM bundle one.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  sourcemap: 'linked',
  // The dependencies' /*! */ and @license comments, kept next to the bundle (their packages,
  // with their licence files, are installed alongside it as before).
  legalComments: 'linked',
  logLevel: 'warning',
  // Not minified: a stack trace in a log then points at a readable line of the bundle (Node uses
  // the source map only with --enable-source-maps). Minifying loaded ~15 % faster.
});
