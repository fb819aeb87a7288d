/**
 * Benchmark 4: TCP ingest. 1,000,000 readings (JSON lines, 8 sensors × 4 measures) sent over 4
 * connections at once to a `tcp` source on 127.0.0.1 → the agent → the emulator. The sender runs
 * in the benchmark process and honours TCP backpressure (it waits for 'drain'), so the agent's
 * own pace decides. Timed from the first byte sent until the emulator finished the request
 * carrying the last reading; "ingest" is until the last byte was handed to the kernel.
 */
import net from 'node:net';
import { threadLabel, threadProfilesIn } from './lib/agent.js';
import { jsonlLine, lines } from './lib/data.js';
import { startEmulator } from './lib/emulator.js';
import { acceptedWindow, agentConfig, agentUsage, cpuSeconds, E2E_SHAPE, spawnAgentRun, waitAccepted } from './lib/hub-run.js';
import { summarizeProfile } from './lib/profile.js';
import { withScope } from './lib/scope.js';
import { writeAll } from './lib/tcp-send.js';

export const name = 'tcp';
export const title = '4. TCP ingest: 4 connections → agent → emulator';
export const bounds =
  'CPU, like end to end: the agent\'s main thread reads the sockets, parses, INSERTs, commits, sends and ' +
  'acknowledges (~95 % busy), with claiming and encoding in the planner worker (docs/performance.md item ' +
  '14). The stall that bounded it before (a source at its in-flight limit waited for the pipeline.max_wait ' +
  'timer; ~50,000 readings/s) is gone: a source that must wait for acknowledgements makes the pipeline ' +
  'commit at once (item 1).';

const CONNECTIONS = 4;

/** Sends `buffers` over one connection each; resolves with the time the last byte was written. */
function send(port, buffers) {
  return Promise.all(
    buffers.map(
      (buf) =>
        new Promise((resolve, reject) => {
          const sock = net.connect({ port, host: '127.0.0.1' });
          sock.once('error', reject);
          sock.once('connect', () => writeAll(sock, buf).then(resolve, reject));
        }),
    ),
  ).then((times) => Math.max(...times));
}

async function once(readings, buffers, log, cpuProfDir) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const emu = await startEmulator(scope);
    const emuCpu0 = cpuSeconds(emu.pid);
    // max_wait 100ms: the last partial batch would otherwise wait the default 2 s (latency, not throughput).
    const config = agentConfig(dir, emu, [{ name: 'bench-tcp', type: 'tcp', listen: '127.0.0.1:0', format: 'jsonl' }], { hub: { batch: { max_wait: '100ms' } } });
    const agent = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false, cpuProfDir });
    const listening = await agent.waitEvent('source_listening', 30_000);
    const port = Number(/:(\d+)$/.exec(listening.address)[1]);
    const t0 = Date.now();
    const sentAt = await send(port, buffers);
    await waitAccepted(emu, readings, agent);
    const snap = await emu.snapshot();
    const emuCpu = cpuSeconds(emu.pid) - emuCpu0;
    const exit = await agent.stop(20_000);
    if (exit.code !== 0) throw new Error(`the agent did not stop cleanly (${agent.diagnosis()})`);
    const w = acceptedWindow(snap.requests);
    const c = snap.counters;
    if (c.datapointsAccepted - c.overwrites !== readings) throw new Error(`the hub holds ${c.datapointsAccepted - c.overwrites} distinct readings, expected ${readings}`);
    const seconds = (w.lastFinishedAt - t0) / 1000;
    const usage = agentUsage(agent);
    const r = { rate: readings / seconds, seconds, ingestRate: readings / ((sentAt - t0) / 1000), agentCpu: usage.cpuSeconds, emuCpu, peakRssMiB: usage.peakRssKiB / 1024 };
    log(`    ${Math.round(r.rate).toLocaleString('en-US')} readings/s delivered (${seconds.toFixed(1)} s); sent in ${((sentAt - t0) / 1000).toFixed(1)} s; agent CPU ${r.agentCpu.toFixed(1)} s; peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
    return r;
  });
}

function buildBuffers(readings) {
  const per = Math.ceil(readings / CONNECTIONS);
  return Array.from({ length: CONNECTIONS }, (_, c) => {
    const n = Math.min(per, readings - c * per);
    return Buffer.from(`${lines(jsonlLine, c * per, n, E2E_SHAPE).join('\n')}\n`);
  });
}

export async function run(ctx) {
  const readings = ctx.quick ? 100_000 : 1_000_000;
  const runs = 3;
  const buffers = buildBuffers(readings);
  ctx.log(`  ${readings.toLocaleString('en-US')} readings over ${CONNECTIONS} connections (${(buffers.reduce((n, b) => n + b.length, 0) / 2 ** 20).toFixed(0)} MiB); ${runs} runs`);
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await once(readings, buffers, ctx.log));
  const med = (k) => results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  return {
    figures: [
      {
        key: 'throughput',
        label: 'TCP ingest → hub throughput',
        unit: 'readings/s',
        values: results.map((r) => r.rate),
        target: null,
        profileAlways: true,
        extra: `bytes handed over at ${Math.round(med('ingestRate')).toLocaleString('en-US')} readings/s (the agent reads only as fast as it commits); agent CPU ${med('agentCpu').toFixed(1)} s in ${med('seconds').toFixed(1)} s; emulator CPU ${med('emuCpu').toFixed(1)} s; peak agent RSS ${med('peakRssMiB').toFixed(0)} MiB`,
      },
    ],
    method:
      `${readings.toLocaleString('en-US')} readings as JSON lines over ${CONNECTIONS} simultaneous TCP connections to a \`tcp\` source (127.0.0.1, port 0), default settings except hub.batch.max_wait 100ms ` +
      '(with the default 2 s the last, partial batch waits up to 2 s: latency, not throughput); ' +
      'fresh emulator and state per run; timed from the first byte sent to the end of the last accepted request (emulator request log); the agent is then stopped with SIGTERM and must exit 0; ' +
      `median of ${runs} runs. The issue sets no target for this benchmark; the end-to-end target (300,000 readings/s) is the natural yardstick.`,
  };
}

export async function profile(ctx) {
  const readings = ctx.quick ? 100_000 : 1_000_000;
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    await once(readings, buildBuffers(readings), ctx.log, dir);
    return threadProfilesIn(dir).map((p) => ({ label: `the agent process during one TCP run (node --cpu-prof), ${threadLabel(p.thread)}`, summary: summarizeProfile(p.file) }));
  });
}

