/**
 * Benchmark 7: memory and disk with a large backlog.
 * - The outbox is filled with 10,000,000 readings directly through dist/outbox/outbox.js
 *   (synchronous=normal for speed; same rows, streams and counters as the pipeline writes), then
 *   closed cleanly (WAL checkpointed, clean-shutdown mark set as the agent's stop does).
 * - bytes per reading: outbox.db size / readings (the WAL is empty after the checkpoint).
 * - The agent is started on that state folder against a hub that answers 503 (so the backlog
 *   stays), and on an empty state folder the same way; its RSS is sampled from /proc.
 * - start-up: spawn → the `agent_started` log line (after a clean stop; and once after a
 *   SIGKILL, when the agent runs `PRAGMA quick_check` over the whole file first).
 */
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { shape } from './lib/data.js';
import { startEmulator } from './lib/emulator.js';
import { agentConfig, spawnAgentRun } from './lib/hub-run.js';
import { fillOutbox, openOutbox } from './lib/outbox-fill.js';
import { dist } from './lib/paths.js';
import { withScope } from './lib/scope.js';
import { nowMs, sleep } from './lib/timing.js';

export const name = 'backlog';
export const title = '7. Memory and disk with a 10,000,000-reading backlog';
export const bounds =
  'Not the backlog\'s size: the agent with a 100,000-reading backlog uses about as much as with 10,000,000. ' +
  'Since the first round and every retry are a single request (docs/performance.md item 8), a refusing hub ' +
  'costs one batch of rows per attempt instead of a round of 20,000; what remains over the empty outbox is ' +
  'SQLite\'s page cache (bounded at 8 MB by cache_size, filled by the first claims) and the heap V8 grew for the ' +
  'first claims and encodes, which it keeps.';

async function sampleAgent(scope, dir, emu, stateDir, seconds, log, label) {
  const input = path.join(dir, 'empty.jsonl');
  writeFileSync(input, '');
  const config = agentConfig(dir, emu, [{ name: 'bench-file', type: 'file', path: input, format: 'jsonl' }], { stateDir });
  const agent = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false });
  const started = await agent.waitEvent('agent_started', 120_000);
  const startupMs = started.timeMs - agent.spawnedAt;
  const t = nowMs();
  await sleep(seconds * 1000);
  const ms = nowMs() - t;
  const sinceSpawn = Date.now() - agent.spawnedAt;
  // RSS: median of the samples in the second half of the window (after start-up settled).
  const rssKiB = agent.sampler.rssBetween(sinceSpawn - ms / 2, sinceSpawn);
  const anonKiB = agent.sampler.anonBetween(sinceSpawn - ms / 2, sinceSpawn);
  const hwmKiB = agent.sampler.hwmKiB;
  return { agent, startupMs, rssMiB: rssKiB / 1024, anonMiB: anonKiB / 1024, hwmMiB: hwmKiB / 1024, label, log };
}

export async function run(ctx) {
  const readings = ctx.quick ? 500_000 : 10_000_000;
  const seconds = ctx.quick ? 3 : 8;
  const runs = ctx.quick ? 1 : 3;
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const backlogState = path.join(dir, 'backlog-state');
    const { markCleanShutdown } = await dist('outbox/integrity.js');
    ctx.log(`  filling an outbox with ${readings.toLocaleString('en-US')} readings…`);
    const t = nowMs();
    const outbox = await openOutbox(path.join(backlogState, 'outbox.db'), 'normal');
    fillOutbox(outbox, readings, shape(8, 4));
    markCleanShutdown(outbox);
    outbox.close();
    const fillSeconds = (nowMs() - t) / 1000;
    const fileBytes = statSync(path.join(backlogState, 'outbox.db')).size;
    // A small backlog too: if memory followed the backlog's size, small and large would differ.
    const smallReadings = 100_000;
    const smallState = path.join(dir, 'small-state');
    const small = await openOutbox(path.join(smallState, 'outbox.db'), 'normal');
    fillOutbox(small, smallReadings, shape(8, 4));
    markCleanShutdown(small);
    small.close();
    const bytesPerReading = fileBytes / readings;
    ctx.log(`  filled in ${fillSeconds.toFixed(1)} s (${Math.round(readings / fillSeconds).toLocaleString('en-US')} readings/s, synchronous=normal); ${(fileBytes / 2 ** 20).toFixed(0)} MiB = ${bytesPerReading.toFixed(1)} bytes per reading`);

    const emu = await startEmulator(scope);
    await emu.addFault({ endpoint: 'any', status: 503, retryAfter: '1', times: 1_000_000_000 });
    const empty = [];
    const full = [];
    const smallList = [];
    for (let i = 0; i < runs; i++) {
      for (const [list, stateDir, label] of [
        [empty, path.join(dir, `empty-state-${i}`), 'empty outbox'],
        [smallList, smallState, `${smallReadings.toLocaleString('en-US')}-reading backlog`],
        [full, backlogState, `${readings.toLocaleString('en-US')}-reading backlog`],
      ]) {
        const r = await sampleAgent(scope, dir, emu, stateDir, seconds, ctx.log, label);
        const exit = await r.agent.stop(30_000);
        if (exit.code !== 0) throw new Error(`the agent did not stop cleanly (${r.agent.diagnosis()})`);
        list.push(r);
        ctx.log(`    ${label}: start-up ${Math.round(r.startupMs)} ms; RSS ${r.rssMiB.toFixed(0)} MiB (private ${r.anonMiB.toFixed(0)} MiB; peak RSS ${r.hwmMiB.toFixed(0)} MiB)`);
      }
    }
    // After a crash: SIGKILL an agent on the backlog, then time the next start (quick_check runs first).
    const victim = await sampleAgent(scope, dir, emu, backlogState, 1, ctx.log, 'backlog');
    victim.agent.signal('SIGKILL');
    await victim.agent.exited;
    const afterCrash = await sampleAgent(scope, dir, emu, backlogState, 1, ctx.log, 'backlog after SIGKILL');
    await afterCrash.agent.stop(30_000);
    ctx.log(`    start-up after a SIGKILL (integrity check of the whole file): ${Math.round(afterCrash.startupMs)} ms`);

    const med = (list, k) => list.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
    const emptyRss = med(empty, 'rssMiB');
    return {
      figures: [
        {
          key: 'rss-ratio',
          label: 'RSS with the backlog / RSS with an empty outbox',
          unit: '%',
          values: full.map((r, i) => (100 * r.rssMiB) / empty[i].rssMiB),
          target: { op: '<=', value: 120 },
          extra: `backlog ${med(full, 'rssMiB').toFixed(0)} MiB (peak ${med(full, 'hwmMiB').toFixed(0)} MiB) vs empty ${emptyRss.toFixed(0)} MiB (peak ${med(empty, 'hwmMiB').toFixed(0)} MiB), RSS = median of /proc samples over the last ${seconds / 2} s of ${seconds} s, the hub answering 503 throughout`,
        },
        { key: 'rss-backlog', label: 'agent RSS with the backlog', unit: 'MiB', values: full.map((r) => r.rssMiB), target: null, extra: `private (anonymous) part ${med(full, 'anonMiB').toFixed(0)} MiB` },
        {
          key: 'rss-small',
          label: `agent RSS with a ${smallReadings.toLocaleString('en-US')}-reading backlog`,
          unit: 'MiB',
          values: smallList.map((r) => r.rssMiB),
          target: null,
          extra: `private part ${med(smallList, 'anonMiB').toFixed(0)} MiB: what a backlog costs is the agent's delivery attempts (a claim of max_points × concurrency rows per retry), the same for ${smallReadings.toLocaleString('en-US')} and ${readings.toLocaleString('en-US')} readings`,
        },
        { key: 'rss-empty', label: 'agent RSS with an empty outbox', unit: 'MiB', values: empty.map((r) => r.rssMiB), target: null, extra: `private (anonymous) part ${med(empty, 'anonMiB').toFixed(0)} MiB; the rest is file-backed, mostly the node binary's own pages` },
        {
          key: 'anon-ratio',
          label: 'private memory with the backlog / with an empty outbox',
          unit: '%',
          values: full.map((r, i) => (100 * r.anonMiB) / empty[i].anonMiB),
          target: null,
          extra: 'the same comparison without the ~45 MiB of file-backed pages that every node process has (a stricter view)',
        },
        { key: 'bytes', label: 'outbox bytes per reading', unit: 'bytes', values: [bytesPerReading], target: { op: '<=', value: 60 }, extra: `${(fileBytes / 2 ** 20).toFixed(0)} MiB for ${readings.toLocaleString('en-US')} readings after a WAL checkpoint` },
        { key: 'startup', label: 'start-up with the backlog (after a clean stop)', unit: 'ms', values: full.map((r) => r.startupMs), target: { op: '<=', value: 1000 } },
        { key: 'startup-empty', label: 'start-up with an empty outbox', unit: 'ms', values: empty.map((r) => r.startupMs), target: null },
        {
          key: 'startup-crash',
          label: 'start-up with the backlog after a SIGKILL',
          unit: 'ms',
          values: [afterCrash.startupMs],
          target: null,
          extra: 'after an unclean stop the agent runs PRAGMA quick_check over the whole outbox before it starts (integrity.ts)',
        },
      ],
      method:
        `${readings.toLocaleString('en-US')} readings (8 sensors × 4 measures) appended through Outbox.append in transactions of 10,000 (synchronous=normal), closed cleanly; ` +
        `then, ${runs} time(s) each, the agent started on that state folder and on a fresh one, with the emulator answering 503 (Retry-After: 1) to everything, ` +
        `sampled for ${seconds} s and stopped with SIGTERM; start-up = spawn → \`agent_started\` (its pino timestamp).`,
      notes: [`filling took ${fillSeconds.toFixed(0)} s (${Math.round(readings / fillSeconds).toLocaleString('en-US')} readings/s through Outbox.append, synchronous=normal)`],
    };
  });
}
