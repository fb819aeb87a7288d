/**
 * Shared steps of the benchmarks that run the agent against the emulator: the input file, the
 * agent's config, waiting for the hub to hold N readings (bounded), and reading the emulator's
 * request log for exact timings (receivedAt / finishedAt are epoch ms on this machine's clock,
 * the same clock as the agent's spawn time).
 */
import path from 'node:path';
import { startAgent, writeAgentConfig } from './agent.js';
import { jsonlLine, shape, writeLinesFile } from './data.js';
import { dataRequests } from './emulator.js';
import { readProc } from './procfs.js';
import { waitFor } from './timing.js';

/** The data set of the end-to-end benchmarks: 8 sensors × 4 measures, one JSON reading per line. */
export const E2E_SHAPE = shape(8, 4);

export function writeJsonlInput(dir, readings, name = 'readings.jsonl', s = E2E_SHAPE) {
  const file = path.join(dir, name);
  const bytes = writeLinesFile(file, jsonlLine, readings, s);
  return { file, bytes };
}

export function fileSourceConfig(file, format = 'jsonl') {
  return { name: 'bench-file', type: 'file', path: file, format };
}

/** Config for one agent run; `hub` holds overrides of the defaults (batch, concurrency, retry). */
export function agentConfig(dir, emu, sources, { hub = {}, outbox, pipeline, stateDir } = {}) {
  return writeAgentConfig(path.join(dir, 'agent.json.yaml'), {
    hubUrl: emu.url,
    stateDir: stateDir ?? path.join(dir, 'state'),
    sources,
    hub,
    outbox,
    pipeline,
  });
}

export function spawnAgentRun(scope, dir, config, emu, { exitWhenIdle = true, cpuProfDir, logLevel = 'info' } = {}) {
  const args = ['run', '--config', config, '--log-level', logLevel];
  if (exitWhenIdle) args.push('--exit-when-idle');
  return startAgent(scope, args, {
    env: { SENSEYE_TOKEN: emu.token },
    cpuProfDir,
    rusageFile: path.join(dir, `rusage-${Date.now()}-${Math.random().toString(36).slice(2)}.json`),
  });
}

/** Waits until the emulator has accepted `n` readings; the deadline scales with n (≥ 5,000/s). */
export async function waitAccepted(emu, n, agent, { minRate = 5_000, slackMs = 60_000, intervalMs = 200 } = {}) {
  return waitFor(
    async () => {
      const s = await emu.summary();
      return s.counters.datapointsAccepted >= n ? s : null;
    },
    {
      what: `the hub holding ${n.toLocaleString('en-US')} readings`,
      timeoutMs: (n / minRate) * 1000 + slackMs,
      intervalMs,
      abort: () => (agent && agent.exit && agent.exit.code !== 0 ? `the agent exited (${agent.diagnosis()})` : null),
    },
  );
}

/**
 * Timings of accepted data requests in the request log: first received, last finished, points
 * and requests (count mode keeps the newest 10,000 entries: enough for 2 M readings in batches
 * of thousands).
 */
export function acceptedWindow(requests, { since = 0 } = {}) {
  const ok = dataRequests(requests).filter((r) => r.status === 200 && r.receivedAt >= since);
  if (ok.length === 0) return null;
  let first = Infinity;
  let last = 0;
  let points = 0;
  for (const r of ok) {
    first = Math.min(first, r.receivedAt);
    last = Math.max(last, r.finishedAt);
    points += r.pointCount ?? 0;
  }
  return { firstReceivedAt: first, lastFinishedAt: last, points, requests: ok.length };
}

export function cpuSeconds(pid) {
  return readProc(pid)?.cpuSeconds ?? NaN;
}

/** Agent CPU seconds and peak RSS (KiB) after it exited: its own rusage when it wrote one, else /proc samples. */
export function agentUsage(agent) {
  const r = agent.rusage();
  const sampled = agent.sampler;
  return {
    cpuSeconds: r ? (r.userCPUTime + r.systemCPUTime) / 1e6 : sampled.cpuSeconds,
    peakRssKiB: Math.max(r?.maxRSS ?? 0, sampled.hwmKiB, sampled.peakRssKiB),
    /** Private memory at its sampled peak (every 100 ms), and the file-backed pages (node binary) last seen. */
    peakAnonKiB: sampled.peakAnonKiB,
    fileKiB: sampled.fileKiB,
  };
}
