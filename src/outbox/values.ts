/** How a reading's value is stored: booleans as 0/1 (the stream's kind says how to read them back). */
import type { ValueKind } from '../parse/reading.js';

export function encodeValue(value: number | string | boolean): number | string {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

export function decodeValue(stored: number | string, kind: ValueKind): number | string | boolean {
  return kind === 'boolean' ? stored === 1 : stored;
}
