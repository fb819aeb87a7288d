/**
 * Deterministic input data. Reading i of a data set is a pure function of i, so a benchmark can
 * say exactly which readings the hub must end up holding: (sensor, measure, instant) is unique
 * per i (the sensor cycles fastest, then the measure, then the time moves one second on), so the
 * emulator's `overwrites` counter is exactly the number of duplicates.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export const BASE_MS = Date.UTC(2026, 0, 1);

export function shape(sensors = 8, measures = 4) {
  return {
    sensors: Array.from({ length: sensors }, (_, i) => `press-${String(i + 1).padStart(2, '0')}`),
    measures: ['temperature', 'pressure', 'vibration', 'speed', 'current', 'voltage', 'flow', 'level'].slice(0, measures),
  };
}

/** Reading i of a shape (long form: one reading per record). */
export function readingAt(i, s) {
  const nS = s.sensors.length;
  const nM = s.measures.length;
  return {
    sensor: s.sensors[i % nS],
    measure: s.measures[Math.floor(i / nS) % nM],
    ts: BASE_MS + Math.floor(i / (nS * nM)) * 1000,
    value: ((i * 7919) % 100_000) / 1000,
  };
}

// --- one record per line -----------------------------------------------------------------------

export function jsonlLine(i, s) {
  const r = readingAt(i, s);
  return `{"sensor":"${r.sensor}","measure":"${r.measure}","ts":"${new Date(r.ts).toISOString()}","value":${r.value}}`;
}

/** Generic long CSV (`csv` format, default columns ts,sensor,measure,value). */
export const CSV_HEADER = 'ts,sensor,measure,value';
export function csvLine(i, s) {
  const r = readingAt(i, s);
  return `${new Date(r.ts).toISOString()},${r.sensor},${r.measure},${r.value}`;
}

// --- several readings per line -----------------------------------------------------------------

/** Senseye wide CSV for one sensor: row j holds every measure at instant j. */
export function senseyeCsvHeader(s) {
  return `DATETIME,${s.measures.join(',')}`;
}
export function senseyeCsvLine(j, s) {
  const cells = s.measures.map((_, m) => ((j * 7919 + m * 31) % 100_000) / 1000);
  return `${new Date(BASE_MS + j * 1000).toISOString()},${cells.join(',')}`;
}

/** Influx line protocol, as Telegraf writes it: one line per (sensor, instant), one field per measure, ns. */
export function influxLine(j, s) {
  const sensor = s.sensors[j % s.sensors.length];
  const ts = BASE_MS + Math.floor(j / s.sensors.length) * 1000;
  const fields = s.measures.map((m, k) => `${m}=${((j * 7919 + k * 31) % 100_000) / 1000}`).join(',');
  return `machine,sensor=${sensor},site=plant-1 ${fields} ${ts}000000`;
}

/** Lines `from`..`from+count-1` of a per-line generator, as an array of strings. */
export function lines(gen, from, count, s) {
  const out = new Array(count);
  for (let k = 0; k < count; k++) out[k] = gen(from + k, s);
  return out;
}

/**
 * Writes `count` records to a file in blocks (bounded memory), optionally after a header line.
 * Returns the bytes written.
 */
export function writeLinesFile(file, gen, count, s, { header, from = 0, flag = 'w' } = {}) {
  const fd = openSync(file, flag);
  let bytes = 0;
  try {
    if (header) bytes += writeSync(fd, `${header}\n`);
    const block = 20_000;
    for (let k = 0; k < count; k += block) {
      const n = Math.min(block, count - k);
      bytes += writeSync(fd, `${lines(gen, from + k, n, s).join('\n')}\n`);
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}
