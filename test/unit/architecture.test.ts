/**
 * The shape docs/architecture.md draws, held by a test: SQLite is touched only inside
 * src/outbox (its handle is private there, handle.ts), no module grows into a god object, and
 * the folders depend on each other without cycles.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/agent-process.js';

const SRC = path.join(ROOT, 'src');
/** "No file under src/ much over 400 lines" (issue 16): a little room, not a second limit. */
const MAX_LINES = 420;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

const files = sourceFiles(SRC).map((file) => ({ file, rel: path.relative(SRC, file), text: readFileSync(file, 'utf8') }));
const folderOf = (rel: string) => rel.split(path.sep)[0]!;

describe('architecture', () => {
  it('finds the sources it checks', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.rel === path.join('outbox', 'outbox.ts'))).toBe(true);
  });

  it('touches SQLite only inside src/outbox', () => {
    const outside = files.filter(
      (f) => folderOf(f.rel) !== 'outbox' && (/from 'better-sqlite3'/.test(f.text) || /outbox\/handle\.js'/.test(f.text) || /\bdatabaseOf\(/.test(f.text)),
    );
    expect(outside.map((f) => f.rel)).toEqual([]);
  });

  it(`keeps every module under ${MAX_LINES} lines`, () => {
    const long = files.map((f) => ({ rel: f.rel, lines: f.text.split('\n').length })).filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  // Type-only imports are left out: they vanish at compile time and order nothing at run time.
  it('has no import cycles between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const f of files) {
      const from = folderOf(f.rel);
      for (const m of f.text.matchAll(/^import (?!type )[^;]*?from '(\.[^']+)'/gms)) {
        const target = path.relative(SRC, path.resolve(path.dirname(f.file), m[1]!));
        const to = folderOf(target);
        if (to === from || target.startsWith('..')) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
      }
    }
    const cycles: string[] = [];
    const reaches = (start: string, goal: string, seen = new Set<string>()): boolean => {
      for (const next of edges.get(start) ?? []) {
        if (next === goal) return true;
        if (!seen.has(next)) {
          seen.add(next);
          if (reaches(next, goal, seen)) return true;
        }
      }
      return false;
    };
    for (const [from, tos] of edges) for (const to of tos) if (reaches(to, from)) cycles.push(`${from} -> ${to}`);
    expect(cycles).toEqual([]);
  });
});
