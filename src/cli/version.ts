import { readFileSync } from 'node:fs';

/** The package version, read once from package.json next to dist/ or src/. */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/**
 * How this process was loaded: `bundle` (dist/bundle/senseye-agent.js, one file: what
 * bin/senseye-agent runs) or `modules` (dist/cli/main.js and its imports, or src/ under tests).
 */
export const BUILD: 'bundle' | 'modules' = import.meta.url.endsWith('/bundle/senseye-agent.js') ? 'bundle' : 'modules';
