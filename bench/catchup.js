/**
 * Benchmark 5: catch-up after an outage. The emulator answers every request 503 (Retry-After: 1)
 * while the agent reads a file of 2,000,000 readings into its outbox; once the outbox holds all
 * of them, the fault is cleared ("the hub is back") and the agent drains the backlog. The drain
 * rate is timed over the accepted requests in the emulator's request log (first received to last
 * finished); the time from the hub's return to the last reading includes the agent's wait for
 * the Retry-After it was last given (up to 1 s).
 */
import path from 'node:path';
import { threadLabel, threadProfilesIn } from './lib/agent.js';
import { startEmulator } from './lib/emulator.js';
import { acceptedWindow, agentConfig, agentUsage, fileSourceConfig, spawnAgentRun, waitAccepted, writeJsonlInput } from './lib/hub-run.js';
import { outboxCounters } from './lib/outbox-peek.js';
import { summarizeProfile } from './lib/profile.js';
import { withScope } from './lib/scope.js';
import { waitFor } from './lib/timing.js';

export const name = 'catchup';
export const title = '5. Catch-up: drain a backlog after the hub returns';
export const bounds =
  'Draining is claim → encode (the planner worker thread) → HTTP → acknowledge (the main thread), against ' +
  'the emulator on the same 2 cores. While a full round is on the wire the next one is claimed and encoded ' +
  'from its continuation (docs/performance.md items 11 and 15), so the worker, the main thread and the hub ' +
  'work at the same time; what is left is the CPU the three share (the worker\'s claim is the largest part: ' +
  'better-sqlite3 builds a row array per reading, and top-ups scan past other sensors\' rows) and the wait ' +
  'for a round\'s last answer.';

const SIZE = (quick) => (quick ? 200_000 : 2_000_000);

/**
 * One outage and recovery. With `cpuProfDir` (profiling), the agent that filled the outbox is
 * stopped before the hub returns and a second, profiled agent does the draining, so the profile
 * shows the drain alone.
 */
async function once(readings, input, log, cpuProfDir) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const emu = await startEmulator(scope);
    await emu.addFault({ endpoint: 'any', status: 503, retryAfter: '1', times: 1_000_000_000 });
    const stateDir = path.join(dir, 'state');
    const config = agentConfig(dir, emu, [fileSourceConfig(input)], { stateDir });
    const filler = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false });
    let agent = filler;
    await agent.waitEvent('agent_started', 30_000);
    const db = path.join(stateDir, 'outbox.db');
    await waitFor(() => (outboxCounters(db)?.appended ?? 0) >= readings, {
      what: 'the outbox holding the whole file while the hub is down',
      timeoutMs: (readings / 5_000) * 1000 + 60_000,
      intervalMs: 250,
      abort: () => (agent.exit ? `the agent exited (${agent.diagnosis()})` : null),
    });
    const filledAt = Date.now();
    const fillRate = readings / ((filledAt - agent.spawnedAt) / 1000);
    const before = await emu.summary();
    const refused = before.counters.faultsInjected;
    if (cpuProfDir) {
      const stopped = await filler.stop(30_000);
      if (stopped.code !== 0) throw new Error(`the filling agent did not stop cleanly (${filler.diagnosis()})`);
    }
    await emu.clearFaults();
    const backAt = Date.now();
    if (cpuProfDir) {
      agent = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false, cpuProfDir });
      await agent.waitEvent('agent_started', 30_000);
    }
    await waitAccepted(emu, readings, agent);
    const snap = await emu.snapshot();
    const exit = await agent.stop(20_000);
    if (exit.code !== 0) throw new Error(`the agent did not stop cleanly (${agent.diagnosis()})`);
    const c = snap.counters;
    if (c.datapointsAccepted - c.overwrites !== readings) throw new Error(`the hub holds ${c.datapointsAccepted - c.overwrites} distinct readings, expected ${readings}`);
    const w = acceptedWindow(snap.requests, { since: backAt });
    const drainSeconds = (w.lastFinishedAt - w.firstReceivedAt) / 1000;
    const usage = agentUsage(agent);
    const r = {
      drainRate: readings / drainSeconds,
      drainSeconds,
      backToDoneSeconds: (w.lastFinishedAt - backAt) / 1000,
      fillRate,
      refused,
      pointsPerRequest: w.points / w.requests,
      peakRssMiB: usage.peakRssKiB / 1024,
      duplicates: c.overwrites,
    };
    log(
      `    outbox filled at ${Math.round(fillRate).toLocaleString('en-US')} readings/s (hub down, ${refused} requests refused); ` +
        `drained at ${Math.round(r.drainRate).toLocaleString('en-US')} readings/s (${drainSeconds.toFixed(1)} s; ${r.backToDoneSeconds.toFixed(1)} s from the hub's return)`,
    );
    return r;
  });
}

export async function run(ctx) {
  const readings = SIZE(ctx.quick);
  const runs = 3;
  const results = await withScope(async (scope) => {
    const { file, bytes } = writeJsonlInput(scope.tempDir(), readings);
    ctx.log(`  ${readings.toLocaleString('en-US')} readings (${(bytes / 2 ** 20).toFixed(0)} MiB JSON lines) queued while the hub answers 503; ${runs} runs`);
    const out = [];
    for (let i = 0; i < runs; i++) out.push(await once(readings, file, ctx.log));
    return out;
  });
  const med = (k) => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  return {
    figures: [
      {
        key: 'drain',
        label: 'catch-up drain rate',
        unit: 'readings/s',
        values: results.map((r) => r.drainRate),
        target: { op: '>=', value: 300_000 },
        extra: `${med('backToDoneSeconds').toFixed(1)} s from the hub's return to the last reading; ${Math.round(med('pointsPerRequest')).toLocaleString('en-US')} points per request; peak agent RSS ${med('peakRssMiB').toFixed(0)} MiB`,
      },
      {
        key: 'fill',
        label: 'ingest into the outbox while the hub is down',
        unit: 'readings/s',
        values: results.map((r) => r.fillRate),
        target: null,
        extra: 'file → parse → outbox (synchronous=full) with delivery failing: the pipeline alone, from the agent\'s spawn',
      },
    ],
    method:
      `${readings.toLocaleString('en-US')} readings (8 sensors × 4 measures, JSON lines); the emulator answers every request 503 with Retry-After: 1 until the outbox ` +
      '(read-only peek at its counters) holds all of them, then the fault is cleared; default agent settings; drain timed from the first to the last accepted request ' +
      `after the hub's return (emulator request log); the hub must end up with exactly ${readings.toLocaleString('en-US')} distinct readings; median of ${runs} runs.`,
    notes: [`duplicates at the hub: ${results.map((r) => r.duplicates).join(', ')}`],
  };
}

export async function profile(ctx) {
  const readings = SIZE(ctx.quick);
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const { file } = writeJsonlInput(dir, readings);
    await once(readings, file, ctx.log, dir);
    const what = `an agent draining the ${readings.toLocaleString('en-US')}-reading backlog after the hub returned (restarted for the profile, so only the drain is sampled; node --cpu-prof)`;
    return threadProfilesIn(dir).map((p) => ({ label: `${what}, ${threadLabel(p.thread)}`, summary: summarizeProfile(p.file) }));
  });
}
