/** Where things are: the repository root, the CLI entry point and the compiled modules. */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'senseye-agent');
export const DIST = path.join(ROOT, 'dist');
export const RUSAGE_HOOK = pathToFileURL(fileURLToPath(new URL('./rusage-hook.js', import.meta.url))).href;

/** Imports a compiled module, e.g. dist('parse/registry.js'). */
export function dist(relative) {
  return import(pathToFileURL(path.join(DIST, relative)).href);
}
