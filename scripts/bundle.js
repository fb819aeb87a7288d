#!/usr/bin/env node
/**
 * `npm run build`, second step: bundles the compiled agent (dist/cli/main.js) and its planner
 * worker (dist/hub/planner-worker.js) with their dependencies into dist/bundle/, one file each,
 * plus chunks for what is imported only when needed (`await import('mqtt')`: the MQTT client and
 * protobufjs, ~1.4 MB) and what the entries share. V8 holds each loaded script's source as a
 * string for as long as the process runs, so code an agent without an MQTT source never loads
 * stays out of its heap: 3.3 MB less idle RSS (docs/performance.md, "Start-up and idle memory").
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
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

// Chunk names carry a hash of their content: start from an empty folder so none is left over.
rmSync(path.join(dist, 'bundle'), { recursive: true, force: true });

await build({
  entryPoints: {
    'senseye-agent': path.join(dist, 'cli', 'main.js'),
    // planner.ts starts it as ./planner-worker.js next to itself: in the bundle, next to senseye-agent.js.
    'planner-worker': path.join(dist, 'hub', 'planner-worker.js'),
    // udp-receiver.ts starts it as ./udp-receiver-worker.js next to itself, likewise.
    'udp-receiver-worker': path.join(dist, 'sources', 'socket', 'udp-receiver-worker.js'),
  },
  outdir: path.join(dist, 'bundle'),
  bundle: true,
  // Dynamic imports become chunks of their own, loaded on first use (see above).
  splitting: true,
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

for (const name of readdirSync(path.join(dist, 'bundle'))) if (name.endsWith('.js')) asciiOnly(path.join(dist, 'bundle', name));

/**
 * esbuild escapes non-ASCII characters in strings and regular expressions, not in the comments it
 * keeps (a few dozen, in undici and zod). One such character makes V8 hold the whole script source
 * as a two-byte string, for as long as the process runs: 7.4 MB of heap instead of 3.7, and V8
 * sizes the heap's growth from what is live, so more again under load (docs/performance.md,
 * item 22). Each UTF-16 unit becomes the text `\uXXXX`, which in a comment is still a comment.
 * The build stops instead if one is anywhere else (a raw template, say, where the escape would
 * change the value), or is a line or paragraph separator (which would end a `//` comment).
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/g, (c, at) => {
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const before = text.slice(lineStart, at);
    const inComment = before.includes('//') || /^\s*(\/\*|\*)/.test(before);
    if (!inComment || c === '\u2028' || c === '\u2029') {
      const line = text.slice(0, at).split('\n').length;
      throw new Error(`${file}:${line}: a non-ASCII character (U+${c.charCodeAt(0).toString(16).padStart(4, '0')}) outside a comment; see asciiOnly in scripts/bundle.js`);
    }
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  if (ascii !== text) writeFileSync(file, ascii);
}
