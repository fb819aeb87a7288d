/**
 * MQTT topic syntax, pure: filters (`+` a whole level, `#` only last), the agent's named-level
 * patterns (`plant/+line/+machine/#`), and templates that build a name from levels
 * (`{line}-{machine}`, or `{2}` by number). Shared by the config schema (every problem named before
 * the agent runs) and the source's topic map (sources/mqtt/topic-map.ts).
 */

/** Why `filter` is not a valid MQTT topic filter, or null. */
export function topicFilterProblem(filter: string): string | null {
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `"${filter}": # must be a whole level and the last one`;
    if (level.includes('+') && level !== '+') return `"${filter}": + must be a whole level`;
  }
  if (filter.includes('\u0000')) return `"${filter}": a topic filter cannot hold U+0000`;
  return null;
}

export interface PatternLevel {
  /** `+name` levels capture a name; a plain `+` captures nothing; `#` matches the rest. */
  kind: 'literal' | 'one' | 'rest';
  text: string;
  name?: string | undefined;
}

/** Splits a named-level pattern; names are the text after `+` (letters, digits, _ and -). */
export function parsePattern(pattern: string): PatternLevel[] {
  return pattern.split('/').map((level): PatternLevel => {
    if (level === '#') return { kind: 'rest', text: level };
    if (level.startsWith('+')) return { kind: 'one', text: level, name: level.length > 1 ? level.slice(1) : undefined };
    return { kind: 'literal', text: level };
  });
}

/** Why `pattern` is not a valid named-level pattern, or null. */
export function topicPatternProblem(pattern: string): string | null {
  const levels = parsePattern(pattern);
  const seen = new Set<string>();
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.kind === 'rest' && i !== levels.length - 1) return `"${pattern}": # must be the last level`;
    if (l.kind === 'literal' && (l.text.includes('+') || l.text.includes('#'))) return `"${pattern}": + and # must start a level ("${l.text}")`;
    if (l.name !== undefined) {
      if (!/^[A-Za-z0-9_-]+$/.test(l.name)) return `"${pattern}": a level name may hold letters, digits, _ and - only ("${l.text}")`;
      if (seen.has(l.name)) return `"${pattern}": the level name "${l.name}" is used twice`;
      seen.add(l.name);
    }
  }
  return null;
}

/** The `{…}` placeholders of a template. */
export function templateNames(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!);
}

/** Why `template` cannot be filled from topics matching `pattern`, or null. */
export function templateProblem(template: string, pattern: string | undefined): string | null {
  const names = templateNames(template);
  if (names.length === 0) return `"${template}" names no topic level: write {name} for a level named in topic_pattern, or {3} for the third level`;
  const named = new Set((pattern === undefined ? [] : parsePattern(pattern)).flatMap((l) => (l.name === undefined ? [] : [l.name])));
  for (const n of names) {
    if (/^[1-9][0-9]*$/.test(n)) continue;
    if (!named.has(n)) return pattern === undefined ? `{${n}} needs topic_pattern naming that level (e.g. plant/+${n}/#)` : `{${n}} is not a level named in topic_pattern "${pattern}"`;
  }
  return null;
}
