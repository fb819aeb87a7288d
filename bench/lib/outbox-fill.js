/**
 * Builds outbox contents through the agent's own Outbox class (dist/outbox/outbox.js), the way
 * the pipeline commits them: transactions of `perTx` readings made of file-source-sized batches
 * (2,500 readings each, with a file position), so rows, streams and counters are exactly what
 * the daemon would have written.
 */
import { readingAt } from './data.js';
import { dist } from './paths.js';

export const PER_CHUNK = 2_500;

/** Reading objects i = from .. from+count-1 (the parsers' output shape). */
export function makeReadings(from, count, s) {
  const out = new Array(count);
  for (let k = 0; k < count; k++) out[k] = readingAt(from + k, s);
  return out;
}

/** The IngestBatches of one transaction: `readings` cut into chunks of PER_CHUNK, each with a checkpoint. */
export function ingestBatches(readings, offsetBase) {
  const batches = [];
  for (let k = 0; k < readings.length; k += PER_CHUNK) {
    const part = readings.slice(k, k + PER_CHUNK);
    batches.push({
      source: 'bench',
      lane: 0,
      readings: part,
      deadLetters: [],
      checkpoint: {
        source: 'bench',
        fileKey: '2049:1234',
        path: '/data/bench.jsonl',
        offset: (offsetBase + k + part.length) * 90,
        line: offsetBase + k + part.length,
        headLen: 256,
        headHash: 'f'.repeat(64),
        parserState: null,
      },
    });
  }
  return batches;
}

/**
 * Appends `count` readings (from index `from`) to an open Outbox in transactions of `perTx`.
 * Reading objects are made per transaction, outside nothing: callers that time the append
 * prebuild them instead (see outbox.js).
 */
export function fillOutbox(outbox, count, s, { from = 0, perTx = 10_000, onProgress } = {}) {
  for (let k = 0; k < count; k += perTx) {
    const n = Math.min(perTx, count - k);
    outbox.append(ingestBatches(makeReadings(from + k, n, s), from + k));
    if (onProgress && (k / perTx) % 100 === 0) onProgress(k + n);
  }
}

/** Opens an Outbox file with the given synchronous mode. */
export async function openOutbox(file, synchronous) {
  const { Outbox } = await dist('outbox/outbox.js');
  return new Outbox(file, { synchronous });
}
