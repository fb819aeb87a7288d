/**
 * One side of the side-by-side benchmark (bench/versus-fluent-bit.js): the inputs of both
 * pipelines, the minimal sink (min-sink.js) as its own process, and one timed run of Fluent Bit
 * or of the agent against it, measured the way the reference's README says: clock from spawn
 * (tail) or from the client's connect (tcp) to the moment the sink has seen every sequence
 * number; CPU (utime + stime, /proc/PID/stat) over that span, peak RSS (VmHWM) and peak RssAnon
 * (sampled every 100 ms) of the process at that moment.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startAgent, writeAgentConfig } from './agent.js';
import { ROOT } from './paths.js';
import { readProc, sampleProcess } from './procfs.js';
import { sleep, waitFor, within } from './timing.js';
import { writeAll } from './tcp-send.js';

export const FLUENT_BIT_DIR = process.env.BENCH_FLUENT_BIT_DIR ?? path.resolve(ROOT, '..', 'shared', 'reference', 'fluent-bit');
export const FLUENT_BIT = path.join(FLUENT_BIT_DIR, 'fluent-bit');
/** Reading i is at BASE + i ms: the agent's timestamps carry the sequence number to the sink. */
export const VS_BASE_MS = Date.UTC(2026, 10, 27, 10, 0, 0);

const SENSORS = ['press-01', 'press-02', 'press-03', 'press-04', 'press-05', 'press-06', 'press-07', 'press-08'];
const MEASURES = ['pres', 'temp', 'vibr', 'flow'];

function reading(i) {
  return {
    ts: new Date(VS_BASE_MS + i).toISOString(),
    sensor: SENSORS[i % SENSORS.length],
    measure: MEASURES[Math.floor(i / SENSORS.length) % MEASURES.length],
    value: ((i * 7919) % 10_000) / 100,
  };
}

/** The same readings in each side's shape: Fluent Bit's carry `seq` (its parser's fields), the agent's a measure. */
const SHAPES = {
  fbCsv: (r, i) => `${r.ts},${r.sensor}.${r.measure},${r.value},${i}`,
  agentCsv: (r) => `${r.ts},${r.sensor},${r.measure},${r.value}`,
  fbJson: (r, i) => `{"ts":"${r.ts}","sensor":"${r.sensor}.${r.measure}","value":${r.value},"seq":${i}}`,
  agentJson: (r) => `{"ts":"${r.ts}","sensor":"${r.sensor}","measure":"${r.measure}","value":${r.value}}`,
};

/** `n` readings in the shape named, as one Buffer of lines. */
export function inputBytes(shapeName, n) {
  const line = SHAPES[shapeName];
  const blocks = [];
  for (let k = 0; k < n; k += 50_000) {
    const out = [];
    for (let i = k; i < Math.min(n, k + 50_000); i++) out.push(line(reading(i), i));
    blocks.push(Buffer.from(`${out.join('\n')}\n`));
  }
  return Buffer.concat(blocks);
}

export async function startSink(scope, readings) {
  const child = scope.track(spawn(process.execPath, [path.join(ROOT, 'bench', 'lib', 'min-sink.js'), String(readings), String(VS_BASE_MS)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const first = await within(new Promise((resolve) => createInterface({ input: child.stdout }).once('line', resolve)), 10_000);
  if (first === null) throw new Error(`min-sink: no ready line; stderr: ${stderr}`);
  const ready = JSON.parse(first);
  const state = async () => (await fetch(`${ready.url}/_sink`, { signal: AbortSignal.timeout(10_000) })).json();
  return { ...ready, pid: child.pid, state };
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Connects (retrying until the listener is up) and sends `buf` honouring backpressure; resolves at connect with a promise of the end. */
async function connectAndSend(port, buf, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const ok = await new Promise((resolve) => {
      sock.once('connect', () => resolve(true));
      sock.once('error', () => resolve(false));
    });
    if (ok) {
      const connectedAt = Date.now();
      const sent = writeAll(sock, buf);
      return { connectedAt, sent };
    }
    sock.destroy();
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(20);
  }
}

/** Waits until the sink saw every reading; then the subject's /proc figures at that moment. */
async function measureUntilDone(sink, readings, pid, t0, cpu0, sampler, what, isAlive, diagnosis) {
  const s = await waitFor(
    async () => {
      const st = await sink.state();
      return st.doneAt !== null ? st : null;
    },
    { what: `${what}: the sink seeing all ${readings.toLocaleString('en-US')} readings`, timeoutMs: (readings / 5_000) * 1000 + 60_000, intervalMs: 50, abort: () => (isAlive() ? null : `the process exited${diagnosis ? ` (${diagnosis()})` : ''}`) },
  );
  const p = readProc(pid);
  sampler.stop();
  if (p === null) throw new Error(`${what}: the process is gone`);
  const seconds = (s.doneAt - t0) / 1000;
  return {
    rate: readings / seconds,
    seconds,
    cpuUsPerReading: (1e6 * (p.cpuSeconds - cpu0)) / readings,
    peakRssMiB: Math.max(p.hwmKiB, sampler.hwmKiB) / 1024,
    peakAnonMiB: Math.max(sampler.peakAnonKiB, p.anonKiB) / 1024,
    fileMiB: p.fileKiB / 1024,
    sinkCpuSeconds: s.cpuSeconds,
    requests: s.requests,
    duplicates: s.points - s.distinct - s.outOfRange,
  };
}

/**
 * Fluent Bit with the reference's tail.conf or tcp.conf. `input`: the file (tail) or the bytes
 * to send (tcp).
 */
export async function runFluentBit(scope, kind, readings, input, log) {
  const dir = scope.tempDir('senseye-vs-fb-');
  const sink = await startSink(scope, readings);
  const tcpPort = kind === 'tcp' ? await freePort() : 0;
  mkdirSync(path.join(dir, 'storage'));
  const env = {
    PATH: process.env.PATH,
    BENCH_CONF_DIR: FLUENT_BIT_DIR,
    BENCH_STORAGE: path.join(dir, 'storage'),
    BENCH_DB: path.join(dir, 'tail.db'),
    BENCH_CSV: kind === 'tail' ? input : path.join(dir, 'unused.csv'),
    BENCH_TCP_PORT: String(tcpPort),
    BENCH_SINK_PORT: String(sink.port),
  };
  const sinkCpu0 = (await sink.state()).cpuSeconds;
  const spawnedAt = Date.now();
  const child = scope.track(spawn(FLUENT_BIT, ['-c', path.join(FLUENT_BIT_DIR, `${kind}.conf`)], { env, stdio: ['ignore', 'ignore', 'pipe'] }));
  child.stderr.resume();
  const sampler = sampleProcess(child.pid, 100);
  let t0 = spawnedAt;
  let cpu0 = 0;
  if (kind === 'tcp') {
    const c = await connectAndSend(tcpPort, input, 15_000);
    t0 = c.connectedAt;
    cpu0 = readProc(child.pid)?.cpuSeconds ?? 0;
  }
  const r = await measureUntilDone(sink, readings, child.pid, t0, cpu0, sampler, `fluent-bit ${kind}`, () => child.exitCode === null);
  r.sinkCpuUsPerReading = (1e6 * (r.sinkCpuSeconds - sinkCpu0)) / readings;
  child.kill('SIGKILL');
  log(`    fluent-bit ${kind}: ${line(r)}`);
  return r;
}

/**
 * The agent (defaults unless `variant` says otherwise: `config` merged over the hub/outbox
 * sections, `nodeOptions` as NODE_OPTIONS) against the sink. Tail: a csv file source; tcp: a
 * jsonl tcp source. Also reports the idle RSS before the TCP client connects.
 */
export async function runAgent(scope, kind, readings, input, log, variant = {}) {
  const dir = scope.tempDir('senseye-vs-agent-');
  const sink = await startSink(scope, readings);
  const source =
    kind === 'tail'
      ? { name: 'vs-tail', type: 'file', path: input, format: 'csv', columns: { ts: 0, sensor: 1, measure: 2, value: 3 }, header: false }
      : { name: 'vs-tcp', type: 'tcp', listen: '127.0.0.1:0', format: 'jsonl' };
  const cfg = variant.config ?? {};
  // hub.batch.max_wait 1s: Fluent Bit flushes every second (Flush 1); the default 2 s would only delay the last batch.
  const config = writeAgentConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: sink.url,
    stateDir: path.join(dir, 'state'),
    sources: [source],
    hub: { batch: { max_wait: '1s' }, ...(cfg.hub ?? {}) },
    ...(cfg.outbox ? { outbox: cfg.outbox } : {}),
    ...(cfg.pipeline ? { pipeline: cfg.pipeline } : {}),
  });
  const sinkCpu0 = (await sink.state()).cpuSeconds;
  const agent = startAgent(scope, ['run', '--config', config, '--log-level', 'info'], {
    env: { SENSEYE_TOKEN: 'v4.local.opaque-benchmark-token', ...(variant.nodeOptions ? { NODE_OPTIONS: variant.nodeOptions } : {}) },
    nodeArgs: variant.nodeArgs ?? [],
    cpuProfDir: variant.cpuProfDir,
  });
  let t0 = agent.spawnedAt;
  let cpu0 = 0;
  let idleRssMiB = NaN;
  let idleAnonMiB = NaN;
  if (kind === 'tcp') {
    const ev = await agent.waitEvent('source_listening', 30_000);
    const port = Number(/:(\d+)$/.exec(ev.address)[1]);
    await sleep(1000);
    const idle = readProc(agent.pid);
    idleRssMiB = idle.rssKiB / 1024;
    idleAnonMiB = idle.anonKiB / 1024;
    const c = await connectAndSend(port, input, 15_000);
    t0 = c.connectedAt;
    cpu0 = readProc(agent.pid)?.cpuSeconds ?? 0;
  }
  const r = await measureUntilDone(sink, readings, agent.pid, t0, cpu0, agent.sampler, `agent ${kind}`, () => agent.exit === null, agent.diagnosis);
  r.sinkCpuUsPerReading = (1e6 * (r.sinkCpuSeconds - sinkCpu0)) / readings;
  r.idleRssMiB = idleRssMiB;
  r.idleAnonMiB = idleAnonMiB;
  // Idle after the load: what the process keeps (V8 heap pages, malloc arenas) once everything is delivered.
  await sleep(5000);
  const after = readProc(agent.pid);
  r.afterRssMiB = (after?.rssKiB ?? NaN) / 1024;
  r.afterAnonMiB = (after?.anonKiB ?? NaN) / 1024;
  const exit = await agent.stop(20_000);
  if (exit.code !== 0) throw new Error(`the agent did not stop cleanly (${agent.diagnosis()})`);
  log(`    agent${variant.label ? ` (${variant.label})` : ''} ${kind}: ${line(r)}${kind === 'tcp' ? `; idle before: RSS ${idleRssMiB.toFixed(0)} MiB, RssAnon ${idleAnonMiB.toFixed(0)} MiB` : ''}; idle 5 s after: RSS ${r.afterRssMiB.toFixed(0)} MiB, RssAnon ${r.afterAnonMiB.toFixed(0)} MiB`);
  return r;
}

function line(r) {
  return (
    `${Math.round(r.rate).toLocaleString('en-US')} readings/s (${r.seconds.toFixed(1)} s), ${r.cpuUsPerReading.toFixed(2)} µs CPU/reading, ` +
    `peak RSS ${r.peakRssMiB.toFixed(0)} MiB, peak RssAnon ${r.peakAnonMiB.toFixed(0)} MiB, RssFile ${r.fileMiB.toFixed(0)} MiB; sink ${r.sinkCpuUsPerReading.toFixed(2)} µs/reading, ${r.requests} requests`
  );
}

export function writeInput(dir, name, bytes) {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

export const fluentBitPresent = () => existsSync(FLUENT_BIT);
