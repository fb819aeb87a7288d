/**
 * Benchmark 2: the outbox (dist/outbox/outbox.js on a real SQLite file in WAL mode).
 *
 * - append: readings/s committed with `Outbox.append`, as the pipeline's writer calls it:
 *   one transaction per 10,000 readings (pipeline.batch_size), made of file-sized batches of
 *   2,500 readings with their file position; with synchronous=full (the default: each commit
 *   survives power loss) and synchronous=normal (survives a crash of the agent only).
 * - claim + ack: readings/s through the shipper's database work for a full round: claim the
 *   oldest 20,000 rows (max_points 5,000 × concurrency 4), cut them per sensor into batches of
 *   ≤ 5,000, compute each batch id, record the batches in the in-flight ledger (one
 *   transaction), then acknowledge each batch (one transaction each: delete rows, bump the
 *   counter, forget the ledger record). No HTTP: that is benchmark 3's business.
 * The Reading objects are built before the clock starts; the outbox file is fresh for each run.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shape } from './lib/data.js';
import { fillOutbox, ingestBatches, makeReadings, openOutbox } from './lib/outbox-fill.js';
import { dist } from './lib/paths.js';
import { profileInProcess, summarizeProfile } from './lib/profile.js';
import { withScope } from './lib/scope.js';
import { nowMs } from './lib/timing.js';
import { pinnedCpu, runWorker, workerDone, workerParams } from './lib/worker.js';

const SELF = fileURLToPath(import.meta.url);

export const name = 'outbox';
export const title = '2. Outbox append and claim + ack';

export const bounds =
  'SQLite and better-sqlite3: in the append profile most of the time is inside the native multi-row `INSERT` (50 readings per ' +
  'statement; two B-trees per row: the table and its `(lane, id)` index) and the commits. In claim + ack about 40 % is the claim, ' +
  'mostly better-sqlite3 building one array per row (~0.5 µs per row), and about a third the range `DELETE`s of acknowledged id ' +
  'runs (a commit stores its readings sensor by sensor, so a batch is one run per commit) and the commits. A run has 450 write ' +
  'transactions: 50 ledger records, an fsync each with synchronous=full, and 400 acknowledgements, which skip their own fsync ' +
  '(a lost one only means a resend under the same batch id; docs/performance.md items 2, 3, 6 and 10).';

const CASES = [
  { key: 'append-full', mode: 'append', synchronous: 'full', label: 'append, synchronous=full (default)', target: 500_000 },
  { key: 'append-normal', mode: 'append', synchronous: 'normal', label: 'append, synchronous=normal', target: null },
  { key: 'claim-ack-full', mode: 'claim', synchronous: 'full', label: 'claim + ack, synchronous=full (default)', target: 500_000 },
  { key: 'claim-ack-normal', mode: 'claim', synchronous: 'normal', label: 'claim + ack, synchronous=normal', target: null },
];

export async function run(ctx) {
  const readings = ctx.smoke ? 10_000 : ctx.quick ? 50_000 : 1_000_000;
  const runs = ctx.smoke ? 2 : ctx.quick ? 3 : 5;
  const figures = [];
  await withScope(async (scope) => {
    const dir = scope.tempDir();
    for (const c of CASES) {
      ctx.log(`  ${c.label}: ${readings.toLocaleString('en-US')} readings × ${runs} runs`);
      const r = await runWorker(scope, SELF, { ...c, dir, readings, runs });
      figures.push({
        key: c.key,
        label: c.label,
        unit: 'readings/s',
        values: r.rates,
        target: c.target ? { op: '>=', value: c.target } : null,
        extra: c.mode === 'append' ? `${r.transactions} transactions per run` : `${r.rounds} rounds, ${r.acks} ack transactions per run`,
      });
    }
  });
  const cpu = pinnedCpu();
  return {
    figures,
    method:
      `Outbox from dist/outbox/outbox.js on a fresh SQLite file (WAL) in the temp folder per run, ${readings.toLocaleString('en-US')} readings per run ` +
      `(8 sensors × 4 measures), median of ${runs} runs, each case in its own Node process${cpu === null ? '' : ` pinned to CPU ${cpu}`}. ` +
      'append: transactions of 10,000 readings (4 file batches of 2,500 with their positions). claim + ack: rounds of readWaiting(20,000) → per-sensor batches of ≤ 5,000 → batch ids → ledger.record (1 tx) → ack per batch (1 tx each); the table is filled (untimed) first.',
  };
}

export async function profile(ctx, missed) {
  const out = [];
  await withScope(async (scope) => {
    const dir = scope.tempDir();
    for (const fig of missed) {
      const c = CASES.find((x) => x.key === fig.key);
      const file = path.join(dir, `${fig.key}.cpuprofile`);
      await runWorker(scope, SELF, { ...c, dir, readings: ctx.quick ? 50_000 : 1_000_000, runs: 1, profileFile: file });
      out.push({ label: `${fig.label} (in-process inspector profile of one timed run)`, summary: summarizeProfile(file) });
    }
  });
  return out;
}

// --- worker -----------------------------------------------------------------------------------

/** Prepares one run (untimed) and returns the timed part. */
async function prepareAppend(file, synchronous, all) {
  const outbox = await openOutbox(file, synchronous);
  const txs = [];
  for (let k = 0; k < all.length; k += 10_000) txs.push(ingestBatches(all.slice(k, k + 10_000), k));
  return () => {
    const t0 = nowMs();
    for (const batches of txs) outbox.append(batches);
    const ms = nowMs() - t0;
    outbox.close();
    return { ms, transactions: txs.length };
  };
}

async function prepareClaim(file, synchronous, count, s) {
  const { batchId } = await dist('hub/encode.js');
  // Fill untimed (synchronous=normal for speed), then reopen as configured.
  const filler = await openOutbox(file, 'normal');
  fillOutbox(filler, count, s);
  filler.close();
  const outbox = await openOutbox(file, synchronous);
  return () => {
    let rounds = 0;
    let acks = 0;
    let done = 0;
    const t0 = nowMs();
    for (;;) {
      const rows = outbox.readWaiting(0, 20_000);
      if (rows.length === 0) break;
      rounds++;
      const bySensor = new Map();
      for (const r of rows) {
        let list = bySensor.get(r.sensor);
        if (list === undefined) bySensor.set(r.sensor, (list = []));
        list.push(r);
      }
      const batches = [];
      for (const [sensor, list] of bySensor) {
        for (let k = 0; k < list.length; k += 5_000) {
          const items = list.slice(k, k + 5_000);
          batches.push({ record: { batchId: batchId(0, sensor, items), lane: 0, kind: 'readings', sensor, firstId: items[0].id, lastId: items.at(-1).id }, items });
        }
      }
      outbox.ledger.record(batches.map((b) => b.record));
      for (const b of batches) {
        outbox.ack(
          b.items.map((i) => i.id),
          b.record.batchId,
          0,
        );
        acks++;
        done += b.items.length;
      }
    }
    const ms = nowMs() - t0;
    outbox.close();
    if (done !== count) throw new Error(`claim + ack: ${done} acknowledged, expected ${count}`);
    return { ms, rounds, acks };
  };
}

async function worker({ mode, synchronous, dir, readings, runs, profileFile }) {
  const s = shape(8, 4);
  const all = mode === 'append' ? makeReadings(0, readings, s) : null;
  const rates = [];
  let info = {};
  const once = async (i, wrap = (fn) => fn()) => {
    const file = path.join(dir, `${mode}-${synchronous}-${process.pid}-${i}.db`);
    try {
      const timed = mode === 'append' ? await prepareAppend(file, synchronous, all) : await prepareClaim(file, synchronous, readings, s);
      const r = await wrap(timed);
      rates.push((readings / r.ms) * 1000);
      info = r;
    } finally {
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    }
  };
  if (mode === 'append') await once('warm'); // first transactions of a process are slower (JIT, page cache)
  rates.length = 0;
  if (profileFile) await once(0, (timed) => profileInProcess(profileFile, async () => timed()));
  else for (let i = 0; i < runs; i++) await once(i);
  workerDone({ rates, transactions: info.transactions, rounds: info.rounds, acks: info.acks });
}

const params = workerParams();
if (params !== null && process.argv[1] === SELF) await worker(params);
