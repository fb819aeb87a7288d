/**
 * The production dependency set (`npm ci --omit=dev`, what the image installs) is enough to run
 * the agent: every package the compiled code imports at run time is a `dependencies` entry of
 * package.json, never a devDependency or an undeclared one that happens to be hoisted.
 *
 * Why a scan and not `npm ci --omit=dev` into a temporary copy: that compiles better-sqlite3
 * from source on every run (~75 s of the suite's budget on this machine). The scan catches the
 * same mistake (a runtime import of a dev or undeclared package) in milliseconds, and
 * test/integration/container-entrypoint.test.ts runs the agent from exactly the lockfile's
 * production packages.
 */
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/agent-process.js';

const DIST = path.join(ROOT, 'dist');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? jsFiles(p) : e.name.endsWith('.js') ? [p] : [];
  });
}

/** Module specifiers of static imports/exports, side-effect imports, dynamic import('…') and require('…'). */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const isBuiltin = (s: string) => s.startsWith('node:') || builtinModules.includes(s.split('/')[0]!);

describe('production dependencies', () => {
  it('cover every package the compiled agent imports', () => {
    expect(existsSync(path.join(DIST, 'cli', 'main.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const files = [...jsFiles(DIST), path.join(ROOT, 'bin', 'senseye-agent')];
    const used = new Map<string, string>();
    for (const file of files) {
      for (const s of specifiers(readFileSync(file, 'utf8'))) {
        if (s.startsWith('.') || s.startsWith('/') || isBuiltin(s)) continue;
        if (!used.has(packageName(s))) used.set(packageName(s), path.relative(ROOT, file));
      }
    }
    // The scan sees the imports it must (guards against a pattern that silently matches nothing).
    for (const known of ['better-sqlite3', 'pino', 'prom-client', 'node-cron', 'yargs', 'zod']) expect([...used.keys()]).toContain(known);
    const missing = [...used].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing, 'imported at run time but not in package.json dependencies').toEqual([]);
  });

  it('keep test and build tools in devDependencies', () => {
    for (const tool of ['typescript', 'vitest', 'nock', '@types/node']) {
      expect(pkg.devDependencies, tool).toHaveProperty([tool]);
      expect(pkg.dependencies, tool).not.toHaveProperty([tool]);
    }
  });

  it('reads specifiers the way the compiler writes them', () => {
    const src = [
      "import pino from 'pino';",
      "import { z } from 'zod';",
      "export { a } from './a.js';",
      "import 'side-effect';",
      "const m = await import('@scope/pkg/sub');",
      "const r = require('cjs-only');",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(specifiers(src).sort()).toEqual(['./a.js', '@scope/pkg/sub', 'cjs-only', 'node:fs', 'pino', 'side-effect', 'zod'].sort());
    expect(packageName('@scope/pkg/sub')).toBe('@scope/pkg');
    expect(packageName('yargs/helpers')).toBe('yargs');
  });
});
