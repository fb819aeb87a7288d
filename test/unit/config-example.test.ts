// config.example.yaml documents every key the schema knows (as a key or a commented example),
// so the file people copy never falls behind the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';

type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; options?: unknown[]; element?: unknown; valueType?: unknown; in?: unknown };

function keysOf(schema: unknown, out = new Set<string>()): Set<string> {
  const def = (schema as { _zod: { def: Def } })._zod.def;
  switch (def.type) {
    case 'object':
      for (const [key, child] of Object.entries(def.shape ?? {})) {
        out.add(key);
        keysOf(child, out);
      }
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      keysOf(def.innerType, out);
      break;
    case 'union':
      for (const option of def.options ?? []) keysOf(option, out);
      break;
    case 'array':
      keysOf(def.element, out);
      break;
    case 'record':
      keysOf(def.valueType, out);
      break;
    case 'pipe':
      keysOf(def.in, out);
      break;
  }
  return out;
}

describe('config.example.yaml', () => {
  it('mentions every configuration key', () => {
    const text = readFileSync(new URL('../../config.example.yaml', import.meta.url), 'utf8');
    const missing = [...keysOf(configSchema)].filter((key) => !new RegExp(`(^|[\\s#{,])${key}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });
});
