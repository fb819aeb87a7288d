/** Builds input files and compares what the hub emulator holds with what was written. */
import type { HubEmulator } from '../../src/emulator/index.js';

export const T0 = Date.UTC(2026, 10, 27, 8);

export interface Expected {
  sensor: string;
  measure: string;
  ts: number;
  value: number | string | boolean;
}

/** n jsonl lines over a few sensors and measures, starting at reading number `from`. */
export function jsonlReadings(from: number, n: number, sensors = ['press-01', 'press-02', 'press-03']): Expected[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { sensor: sensors[i % sensors.length]!, measure: i % 5 === 0 ? 'state' : 'temperature', ts: T0 + i * 1000, value: i % 5 === 0 ? `s${i}` : i / 4 };
  });
}

export function toJsonl(readings: Expected[]): string {
  return readings.map((r) => JSON.stringify({ sensor: r.sensor, measure: r.measure, ts: new Date(r.ts).toISOString(), value: r.value })).join('\n') + '\n';
}

export function key(r: Expected): string {
  return `${r.sensor}|${r.measure}|${new Date(r.ts).toISOString()}|${JSON.stringify(r.value)}`;
}

/** Every data point the emulator accepted, as keys (sensor by its mappingId), in arrival order. */
export function receivedKeys(hub: HubEmulator): string[] {
  const names = new Map(hub.store.sensors.map((s) => [s.id, s.mappingId ?? s.name]));
  return hub.store.dataPoints.map(
    (p) => `${names.get(p.sensorId)}|${p.measureName}|${new Date(p.timestamp).toISOString()}|${JSON.stringify(p.value)}`,
  );
}

export function sorted(keys: string[]): string[] {
  return [...keys].sort();
}
