#!/usr/bin/env node
/**
 * `npm run bench [-- [--quick] [--profile|--no-profile] [--write|--no-write] [NAME...]]`
 *
 * Runs the benchmarks of issue 8 (all, or those named: parse outbox e2e tcp catchup throttled
 * backlog crash udp mqtt versus, or their numbers 1-11), prints each figure (median, min, max), and writes
 * bench/RESULTS.md. Where a target is missed, one more profiled run says what bounds it.
 *
 * --quick       small sizes (a few seconds each); results are printed, not written (unless --write)
 * --smoke       tiny sizes, only to show the benchmarks still run (test/integration/bench-smoke.test.ts)
 * --profile     profile every benchmark, met or not;  --no-profile: never
 * --write       write bench/results.json and bench/RESULTS.md (default for full-size runs)
 * --no-write    print only
 * BENCH_PIN=0   do not pin the micro-benchmarks to one CPU; BENCH_CPU=N pins them to CPU N
 *
 * Exit code 0 when every benchmark ran (a missed target is a result, not a failure); 1 when one
 * failed to run. Runs one benchmark at a time: they would disturb each other on 2 cores.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeMachine, load } from './lib/machine.js';
import { DIST, ROOT } from './lib/paths.js';
import { figureLine, finishFigures, loadStore, renderMarkdown, saveStore } from './lib/report.js';
import { nowMs } from './lib/timing.js';

const BENCHMARKS = ['parse', 'outbox', 'e2e', 'tcp', 'catchup', 'throttled', 'backlog', 'crash', 'udp', 'mqtt', 'versus'];
/** Modules whose file name is not the benchmark's name. */
const FILES = { versus: 'versus-fluent-bit' };
const RESULTS_JSON = path.join(ROOT, 'bench', 'results.json');
const RESULTS_MD = path.join(ROOT, 'bench', 'RESULTS.md');
const KEPT_MARKER = '<!-- recorded by hand: bench/run.js keeps everything from here on -->';

function parseArgs(argv) {
  const opts = { quick: process.env.BENCH_QUICK === '1', profile: null, write: null, names: [] };
  for (const a of argv) {
    if (a === '--quick') opts.quick = true;
    else if (a === '--smoke') opts.quick = opts.smoke = true;
    else if (a === '--profile') opts.profile = true;
    else if (a === '--no-profile') opts.profile = false;
    else if (a === '--write') opts.write = true;
    else if (a === '--no-write') opts.write = false;
    else if (a === '--help' || a === '-h') opts.help = true;
    else if (/^([1-9]|1[01])$/.test(a)) opts.names.push(BENCHMARKS[Number(a) - 1]);
    else if (BENCHMARKS.includes(a)) opts.names.push(a);
    else throw new Error(`unknown benchmark or option "${a}"; benchmarks: ${BENCHMARKS.join(', ')} (or 1-11)`);
  }
  if (opts.names.length === 0) opts.names = [...BENCHMARKS];
  opts.write ??= !opts.quick;
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n`);
    return 78;
  }
  if (opts.help) {
    process.stdout.write(`usage: npm run bench -- [--quick] [--profile|--no-profile] [--write|--no-write] [${BENCHMARKS.join('|')}|1-11 ...]\n`);
    return 0;
  }
  if (!existsSync(path.join(DIST, 'cli', 'main.js'))) {
    process.stderr.write('bench: dist/ is missing: run `npm run build` (or `npm ci`, which builds) first\n');
    return 1;
  }
  const machine = describeMachine();
  const log = (line) => process.stdout.write(`${line}\n`);
  log(`senseye-agent benchmarks${opts.quick ? ' (quick sizes)' : ''}: ${opts.names.join(', ')}`);
  log(`machine: ${machine.nproc} CPUs, ${machine.cpu}, Node ${machine.node}; ${machine.load}`);
  log('note: the machine is shared; figures are medians and still noisy. Load is recorded with each benchmark.');

  const store = loadStore(RESULTS_JSON);
  store.machine = machine;
  let failed = 0;
  for (const name of opts.names) {
    const bench = await import(`./${FILES[name] ?? name}.js`);
    const loadBefore = load();
    log(`\n== ${bench.title} ==  (${loadBefore})`);
    const started = nowMs();
    const entry = { name, title: bench.title, date: new Date().toISOString(), quick: opts.quick, loadBefore, figures: [], notes: [], profiles: [] };
    const ctx = { quick: opts.quick, smoke: opts.smoke === true, log };
    try {
      const result = await bench.run(ctx);
      entry.figures = finishFigures(result.figures);
      entry.method = result.method;
      entry.notes = result.notes ?? [];
      entry.bounds = bench.bounds ?? null;
      entry.lead = result.lead ?? null;
      for (const f of entry.figures) log(`  ${figureLine(f)}${f.extra ? `\n      ${f.extra}` : ''}`);
      for (const n of entry.notes) log(`  note: ${n}`);
      // Profile what missed its target (and figures marked profileAlways: no target, but worth knowing).
      const missed = entry.figures.filter((f) => f.met === false || f.profileAlways);
      const wantProfile = opts.profile === true || (opts.profile === null && !opts.quick && missed.length > 0);
      if (wantProfile && typeof bench.profile === 'function') {
        const which = opts.profile === true ? entry.figures.filter((f) => f.target || f.profileAlways) : missed;
        log(`  profiling: ${which.map((f) => f.key).join(', ')}`);
        entry.profiles = await bench.profile(ctx, which);
        for (const p of entry.profiles) {
          log(`  profile ${p.label}: ${(p.summary.busyMs / 1000).toFixed(1)} s busy, ${((100 * p.summary.idleMs) / Math.max(1, p.summary.totalMs)).toFixed(0)} % idle; top:`);
          for (const t of p.summary.top.slice(0, 6)) log(`    ${t.pct.toFixed(1).padStart(5)} %  ${t.fn.slice(0, 50)}  ${t.where}`);
        }
      }
    } catch (err) {
      failed++;
      entry.error = err?.stack ?? String(err);
      log(`  FAILED: ${entry.error}`);
    }
    entry.seconds = (nowMs() - started) / 1000;
    entry.loadAfter = load();
    log(`  (${entry.seconds.toFixed(0)} s; ${entry.loadAfter})`);
    store.benchmarks[name] = entry;
  }
  if (opts.write) {
    saveStore(RESULTS_JSON, store);
    const { existsSync: exists, readFileSync, writeFileSync } = await import('node:fs');
    // Results of scripts outside this runner (bench/many-files.js) are recorded by hand below a marker, and kept.
    const previous = exists(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : '';
    const kept = previous.includes(KEPT_MARKER) ? `\n${previous.slice(previous.indexOf(KEPT_MARKER))}` : '';
    writeFileSync(RESULTS_MD, renderMarkdown(store, BENCHMARKS) + kept);
    log(`\nwrote ${path.relative(process.cwd(), RESULTS_MD)} and ${path.relative(process.cwd(), RESULTS_JSON)}`);
  } else {
    log('\n(results not written: quick or --no-write run)');
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
