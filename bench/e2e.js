/**
 * Benchmark 3: end to end. A file of 2,000,000 readings (8 sensors × 4 measures, JSON lines) →
 * the agent (`senseye-agent run --exit-when-idle`, default settings: synchronous=full,
 * batch_size 10,000, max_points 5,000, concurrency 4) → the emulator in its own process.
 * Timed from the agent's spawn until the emulator finished the request carrying the last
 * reading (from its request log). Peak RSS is the agent's own maxRSS (rusage at exit).
 */
import path from 'node:path';
import { threadLabel, threadProfilesIn } from './lib/agent.js';
import { jsonlLine, writeLinesFile } from './lib/data.js';
import { startEmulator } from './lib/emulator.js';
import { acceptedWindow, agentConfig, agentUsage, cpuSeconds, E2E_SHAPE, fileSourceConfig, spawnAgentRun, waitAccepted, writeJsonlInput } from './lib/hub-run.js';
import { summarizeProfile } from './lib/profile.js';
import { withScope } from './lib/scope.js';
import { within } from './lib/timing.js';

export const name = 'e2e';
export const title = '3. End to end: file → agent → emulator';
export const bounds =
  'CPU on both cores. The agent\'s main thread (sources, parsing, outbox INSERTs and commits, requests, ' +
  'acknowledgements) is ~95 % busy in the profile below; claiming and encoding rounds run in the planner ' +
  'worker thread (docs/performance.md, item 14), about two-thirds busy, sharing the other core with the ' +
  'emulator (~1.1 µs per reading, item 17). On the main thread JSON.parse and the INSERTs are about a fifth ' +
  'each; more needs ingest (parse → INSERT) in a thread of its own (item 9), which only pays with a core to ' +
  'spare. Peak RSS (item 22 and "Memory" in docs/performance.md): at the peak ~140 MiB are V8 heap pages of ' +
  'the two threads, of which ~25 MB are live (the rest is young generation and garbage awaiting a full ' +
  'collection: V8 lets a heap grow while it allocates fast), ~49 MiB the node binary\'s own pages (shared with ' +
  'every node process) and ~40 MiB malloc (SQLite page caches, buffers in flight). The node binary and malloc ' +
  'alone are about the 96 MiB target; smaller heaps cost throughput one for one on these 2 cores.';

const SIZE = (quick) => (quick ? 200_000 : 2_000_000);

async function once(readings, input, log, cpuProfDir) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const emu = await startEmulator(scope);
    const emuCpu0 = cpuSeconds(emu.pid);
    const config = agentConfig(dir, emu, [fileSourceConfig(input)]);
    const agent = spawnAgentRun(scope, dir, config, emu, { cpuProfDir });
    const started = await agent.waitEvent('agent_started', 30_000);
    await waitAccepted(emu, readings, agent);
    const snap = await emu.snapshot();
    const emuCpu = cpuSeconds(emu.pid) - emuCpu0;
    const exit = await within(agent.exited, 30_000);
    if (exit === null || exit.code !== 0) throw new Error(`the agent did not exit 0 after delivering everything (${agent.diagnosis()})`);
    const w = acceptedWindow(snap.requests);
    const seconds = (w.lastFinishedAt - agent.spawnedAt) / 1000;
    const usage = agentUsage(agent);
    const c = snap.counters;
    if (c.datapointsAccepted - c.overwrites !== readings) {
      throw new Error(`the hub holds ${c.datapointsAccepted - c.overwrites} distinct readings, expected ${readings}`);
    }
    const r = {
      rate: readings / seconds,
      seconds,
      peakRssMiB: usage.peakRssKiB / 1024,
      peakAnonMiB: usage.peakAnonKiB / 1024,
      fileMiB: usage.fileKiB / 1024,
      agentCpu: usage.cpuSeconds,
      emuCpu,
      startupMs: started.timeMs - agent.spawnedAt,
      pointsPerRequest: w.points / w.requests,
      duplicates: c.overwrites,
    };
    log(
      `    ${Math.round(r.rate).toLocaleString('en-US')} readings/s in ${seconds.toFixed(1)} s; peak RSS ${r.peakRssMiB.toFixed(0)} MiB; ` +
        `agent CPU ${r.agentCpu.toFixed(1)} s, emulator CPU ${emuCpu.toFixed(1)} s`,
    );
    return r;
  });
}

/** The same readings with a 40-character extra field: ~140 bytes per line instead of ~90. */
function writeLongLines(dir, readings) {
  const file = path.join(dir, 'long-lines.jsonl');
  const note = `{"note":"${'x'.repeat(40)}",`;
  const bytes = writeLinesFile(file, (i, s) => jsonlLine(i, s).replace('{', note), readings, E2E_SHAPE);
  return { file, bytes };
}

export async function run(ctx) {
  const readings = SIZE(ctx.quick);
  const runs = 3;
  const longReadings = ctx.quick ? 100_000 : 500_000;
  const [results, long] = await withScope(async (scope) => {
    const dir = scope.tempDir();
    const { file, bytes } = writeJsonlInput(dir, readings);
    ctx.log(`  input: ${readings.toLocaleString('en-US')} readings, ${(bytes / 2 ** 20).toFixed(0)} MiB of JSON lines; ${runs} runs`);
    const out = [];
    for (let i = 0; i < runs; i++) out.push(await once(readings, file, ctx.log));
    const longFile = writeLongLines(dir, longReadings);
    ctx.log(`  the same with ~${Math.round(longFile.bytes / longReadings)}-byte lines, ${longReadings.toLocaleString('en-US')} readings, 1 run`);
    return [out, await once(longReadings, longFile.file, ctx.log)];
  });
  const med = (k) => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  return {
    figures: [
      {
        key: 'throughput',
        label: 'end-to-end throughput',
        unit: 'readings/s',
        values: results.map((r) => r.rate),
        target: { op: '>=', value: 300_000 },
        extra:
          `agent CPU ${med('agentCpu').toFixed(1)} s for ${med('seconds').toFixed(1)} s of wall time (${((1e6 * med('agentCpu')) / readings).toFixed(1)} µs of agent CPU per reading); ` +
          `emulator CPU ${med('emuCpu').toFixed(1)} s; ${Math.round(med('pointsPerRequest')).toLocaleString('en-US')} points per request on average; ` +
          `agent start-up (spawn → agent_started) ${Math.round(med('startupMs'))} ms, included`,
      },
      {
        key: 'long-lines',
        label: 'end-to-end throughput with ~140-byte lines',
        unit: 'readings/s',
        values: [long.rate],
        target: null,
        extra:
          `${longReadings.toLocaleString('en-US')} readings with an extra 40-character field; agent CPU ${long.agentCpu.toFixed(1)} s for ${long.seconds.toFixed(1)} s of wall time. ` +
          `${((1e6 * long.agentCpu) / longReadings).toFixed(1)} µs of agent CPU per reading against ${((1e6 * med('agentCpu')) / readings).toFixed(1)} above: longer lines cost more to read and parse, ` +
          'and the 4 chunks a source may have in flight (256 KiB each) hold fewer readings, so commits are smaller (docs/performance.md, item 1)',
      },
      {
        key: 'rss',
        label: 'peak agent RSS',
        unit: 'MiB',
        values: results.map((r) => r.peakRssMiB),
        target: { op: '<=', value: 96 },
        extra:
          `of which private (anonymous) memory peaked at ${med('peakAnonMiB').toFixed(0)} MiB (sampled every 100 ms) and file-backed pages, mostly the node binary's own and shared ` +
          `with every node process, were ${med('fileMiB').toFixed(0)} MiB; the idle agent with an empty outbox is ~90 MiB RSS (benchmark 7)`,
      },
    ],
    method:
      `${readings.toLocaleString('en-US')} readings (8 sensors × 4 measures) in one JSON-lines file; fresh emulator (\`--record count\`) and state folder per run; ` +
      'agent with the default settings (synchronous=full, batch_size 10,000, max_points 5,000, max_bytes 768 KiB, concurrency 4) and `--exit-when-idle`; ' +
      `timed from the agent's spawn to the end of the last accepted request in the emulator's request log; every run checks the hub holds exactly ${readings.toLocaleString('en-US')} distinct readings; median of ${runs} runs.`,
    notes: [`duplicates at the hub across runs: ${results.map((r) => r.duplicates).join(', ')} (expected 0 without a crash)`],
  };
}

export async function profile(ctx) {
  const readings = SIZE(ctx.quick);
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const { file } = writeJsonlInput(dir, readings);
    await once(readings, file, ctx.log, dir);
    return threadProfilesIn(dir).map((p) => ({ label: `the agent process during one end-to-end run (node --cpu-prof), ${threadLabel(p.thread)}`, summary: summarizeProfile(p.file) }));
  });
}
