/**
 * Shared vocabulary of the emulator's validators: the result type, the problem collector that
 * prefixes every message with its field path and caps how many are reported, and the
 * sensor-addressing rule (exactly one of sensorId / mappingId) used by both data endpoints.
 * Nothing here throws on client data or touches state.
 */
import { quote } from './timestamp.js';

export type Ingest = 'timeseries' | 'frequency';
export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** How a request addresses its sensor: by the hub's uuid or by the client's mapping id. */
export type SensorRef = { kind: 'sensorId'; sensorId: string } | { kind: 'mappingId'; mappingId: string };

/** More messages than this help nobody; the rest are summarised in one line. */
export const MAX_ERRORS = 50;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export class Problems {
  readonly list: string[] = [];
  private dropped = 0;
  add(path: string, message: string): void {
    if (this.list.length < MAX_ERRORS) this.list.push(`${path}: ${message}`);
    else this.dropped += 1;
  }
  unknownFields(path: string, obj: Obj, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) this.add(path ? `${path}.${key}` : key, 'unknown field');
    }
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  result<T>(value: () => T): Validation<T> {
    if (this.empty) return { ok: true, value: value() };
    const errors = [...this.list];
    if (this.dropped > 0) errors.push(`… and ${this.dropped} more problems`);
    return { ok: false, errors };
  }
}

export function nonEmptyString(p: Problems, path: string, v: unknown): v is string {
  if (typeof v !== 'string') {
    p.add(path, `must be a string, got ${kindOf(v)}`);
    return false;
  }
  if (v.trim().length === 0) {
    p.add(path, 'must not be empty');
    return false;
  }
  return true;
}

export function sensorRef(p: Problems, path: string, obj: Obj): SensorRef | null {
  const hasId = present(obj.sensorId);
  const hasMapping = present(obj.mappingId);
  const where = path || 'body';
  if (hasId && hasMapping) {
    p.add(where, 'give exactly one of sensorId or mappingId, not both');
    return null;
  }
  if (!hasId && !hasMapping) {
    p.add(where, 'exactly one of sensorId or mappingId is required');
    return null;
  }
  const prefix = path ? `${path}.` : '';
  if (hasId) {
    if (!nonEmptyString(p, `${prefix}sensorId`, obj.sensorId)) return null;
    if (!UUID.test(obj.sensorId)) {
      p.add(`${prefix}sensorId`, `must be a UUID, got ${quote(obj.sensorId)}`);
      return null;
    }
    return { kind: 'sensorId', sensorId: obj.sensorId.toLowerCase() };
  }
  if (!nonEmptyString(p, `${prefix}mappingId`, obj.mappingId)) return null;
  return { kind: 'mappingId', mappingId: obj.mappingId };
}

