/**
 * Benchmark 1: parse + validate per format, readings/s on one core.
 *
 * What is timed is the agent's own transform, `parseChunk` (dist/pipeline/parse-chunk.js), over
 * chunks of ~256 KiB of lines (what the file tailer hands over): every line is parsed and
 * validated by the format's parser and its readings gathered into the chunk's outbox batch,
 * exactly as in the daemon. Reading the file and cutting lines is the source's work and is
 * not included. Each format runs in its own Node process pinned to one CPU; the first pass
 * over the data warms the JIT and is not counted.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CSV_HEADER, csvLine, influxLine, jsonlLine, lines, senseyeCsvHeader, senseyeCsvLine, shape } from './lib/data.js';
import { dist } from './lib/paths.js';
import { profileInProcess, summarizeProfile } from './lib/profile.js';
import { withScope } from './lib/scope.js';
import { nowMs } from './lib/timing.js';
import { pinnedCpu, runWorker, workerDone, workerParams } from './lib/worker.js';

const SELF = fileURLToPath(import.meta.url);

export const name = 'parse';
export const title = '1. Parse + validate per format';

/** Format → how its test lines look and what parser options it gets. */
const FORMATS = {
  jsonl: { perLine: 1, header: null, gen: jsonlLine, options: {}, describe: 'one reading per line, RFC 3339 `ts`' },
  'senseye-csv': {
    perLine: 4,
    header: senseyeCsvHeader,
    gen: senseyeCsvLine,
    options: { sensor: 'press-01' },
    describe: 'wide rows: DATETIME + 4 measures (4 readings per line)',
  },
  influx: { perLine: 4, header: null, gen: influxLine, options: {}, describe: 'Telegraf-style lines, 2 tags, 4 fields, ns timestamps (4 readings per line)' },
  csv: { perLine: 1, header: () => CSV_HEADER, gen: csvLine, options: {}, describe: 'long CSV ts,sensor,measure,value (1 reading per line)' },
};
export const bounds =
  'Pure CPU in one thread (0 % idle). For jsonl the profile splits into `parseLine` self time (mostly `JSON.parse`, which V8 ' +
  'reports inside its caller; about half), garbage collection of the per-line objects (parsed record, outcome, readings array, ' +
  'reading; about a third) and the fixed-layout RFC 3339 fast path (`fastRfc3339`, under a tenth; docs/performance.md item 5).';

const TARGETS = { jsonl: 1_000_000, 'senseye-csv': 1_000_000 };
const CHUNK_BYTES = 256 * 1024;

export async function run(ctx) {
  const readings = ctx.smoke ? 10_000 : ctx.quick ? 100_000 : 1_000_000;
  const runs = ctx.smoke ? 2 : ctx.quick ? 3 : 5;
  const figures = [];
  const details = {};
  await withScope(async (scope) => {
    for (const format of Object.keys(FORMATS)) {
      ctx.log(`  ${format}: ${readings.toLocaleString('en-US')} readings × ${runs} runs`);
      const r = await runWorker(scope, SELF, { format, readings, runs });
      details[format] = { lines: r.lines, readingsPerRun: r.readings };
      figures.push({
        key: format,
        label: `${format} parse + validate`,
        unit: 'readings/s',
        values: r.rates,
        target: TARGETS[format] ? { op: '>=', value: TARGETS[format] } : null,
        extra: `${(r.rates.map((x) => x / FORMATS[format].perLine).sort((a, b) => a - b)[Math.floor(r.rates.length / 2)] / 1e3).toFixed(0)}k lines/s; ${FORMATS[format].describe}`,
      });
    }
  });
  const cpu = pinnedCpu();
  return {
    figures,
    method:
      `parseChunk() from dist/pipeline/parse-chunk.js over ${readings.toLocaleString('en-US')} readings per run, in chunks of 256 KiB of lines, ` +
      `each format in a fresh Node process ${cpu === null ? '(not pinned: taskset unavailable)' : `pinned to CPU ${cpu} with taskset`}; one warm-up pass first; median of ${runs} runs.`,
    details,
  };
}

export async function profile(ctx, missed) {
  const out = [];
  await withScope(async (scope) => {
    const dir = scope.tempDir();
    for (const fig of missed) {
      const file = path.join(dir, `${fig.key}.cpuprofile`);
      await runWorker(scope, SELF, { format: fig.key, readings: ctx.quick ? 100_000 : 1_000_000, runs: 1, profileFile: file });
      out.push({ label: `${fig.key} parse (in-process inspector profile of one timed run)`, summary: summarizeProfile(file) });
    }
  });
  return out;
}

// --- worker -----------------------------------------------------------------------------------

async function worker({ format, readings, runs, profileFile }) {
  const { FORMATS: PARSERS } = await dist('parse/registry.js');
  const { parseChunk } = await dist('pipeline/parse-chunk.js');
  const f = FORMATS[format];
  const s = shape(8, 4);
  const count = Math.ceil(readings / f.perLine);
  const body = lines(f.gen, 0, count, s);
  // Cut into chunks as the tailer does (~256 KiB each); the header goes first into the first chunk.
  const chunks = [];
  let current = f.header ? [f.header(s)] : [];
  let bytes = 0;
  for (const line of body) {
    current.push(line);
    bytes += line.length + 1;
    if (bytes >= CHUNK_BYTES) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) chunks.push(current);

  const pass = () => {
    const parser = PARSERS[format](f.options, null);
    let n = 0;
    let bad = 0;
    let line = 1;
    const t0 = nowMs();
    for (const chunkLines of chunks) {
      const parsed = parseChunk({ source: 'bench', lane: 0, origin: 'bench', lines: chunkLines, firstLine: line, parser, ack: () => undefined });
      n += parsed.batch.readings.length;
      bad += parsed.batch.deadLetters.length;
      line += chunkLines.length;
    }
    const ms = nowMs() - t0;
    if (bad > 0) throw new Error(`${format}: ${bad} lines refused; the generator and the parser disagree`);
    return { n, ms };
  };

  pass(); // warm-up
  const rates = [];
  let n = 0;
  if (profileFile) {
    await profileInProcess(profileFile, async () => {
      const r = pass();
      rates.push((r.n / r.ms) * 1000);
      n = r.n;
    });
  } else {
    for (let i = 0; i < runs; i++) {
      const r = pass();
      rates.push((r.n / r.ms) * 1000);
      n = r.n;
    }
  }
  workerDone({ format, lines: count, readings: n, rates });
}

const params = workerParams();
if (params !== null && process.argv[1] === SELF) await worker(params);
