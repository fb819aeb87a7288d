/**
 * Benchmark 9: UDP ingest at a fixed rate. One JSON reading per datagram, sent from this process
 * to a `udp` source on 127.0.0.1 at a fixed rate for a bounded number of datagrams (UDP has no
 * flow control: the sender does not wait for the agent), → the agent → the emulator. Reports
 * datagrams/s sent, received by the agent, delivered to the hub, drops as the kernel counts them
 * for the socket (/proc/net/udp, read here by port) and as the agent's counter says (its
 * `udp_source_stopped` log line), and the agent's CPU per datagram.
 */
import dgram from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import { jsonlLine } from './lib/data.js';
import { startEmulator } from './lib/emulator.js';
import { threadLabel, threadProfilesIn } from './lib/agent.js';
import { summarizeProfile } from './lib/profile.js';
import { agentConfig, cpuSeconds, E2E_SHAPE, spawnAgentRun, waitAccepted } from './lib/hub-run.js';
import { withScope } from './lib/scope.js';

export const name = 'udp';
export const title = '9. UDP ingest at a fixed rate: one reading per datagram → agent → emulator';
export const bounds =
  'The kernel drops datagrams once the socket\'s receive buffer is full, so what matters is that the agent ' +
  'reads (and commits) on average faster than the rate and never stalls longer than the receive buffer lasts ' +
  '(receive_buffer 4 MiB: the kernel grants 8 MiB of accounting, ~10,000 small datagrams, ~0.2 s at 50,000/s).';

/** The socket's row in /proc/net/udp by local port: { drops, rxQueue } or null. */
function kernelRow(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 13 && cols[1].endsWith(`:${hexPort}`)) return { drops: Number(cols[12]), rxQueue: parseInt(cols[4].split(':')[1], 16) };
    }
  }
  return null;
}

/** CPU seconds of the agent's main thread (its tid is its pid) and of all its other threads. */
function threadCpu(pid) {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (100/s on Linux)
    if (Number(tid) === pid) main += seconds;
    else others += seconds;
  }
  return { main, others };
}

/**
 * Sends `total` datagrams at `rate`/s from a connected socket (no address lookup per datagram),
 * catching up each millisecond tick; resolves with the seconds until the last one was handed to
 * the kernel.
 */
export function sendAtRate(port, rate, total) {
  const socket = dgram.createSocket('udp4');
  const payloads = Array.from({ length: Math.min(total, 200_000) }, (_, i) => Buffer.from(jsonlLine(i, E2E_SHAPE)));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => {
      const t0 = performance.now();
      let sent = 0;
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
        for (; sent < due; sent++) {
          // Readings beyond the prepared ones: later timestamps, built as needed.
          const p = sent < payloads.length ? payloads[sent] : Buffer.from(jsonlLine(sent, E2E_SHAPE));
          if (sent === total - 1) socket.send(p, () => socket.close(() => resolve((performance.now() - t0) / 1000)));
          else socket.send(p);
        }
        if (sent < total) setTimeout(tick, 1);
      };
      tick();
    });
  });
}

export async function once(rate, seconds, log, cpuProfDir) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const emu = await startEmulator(scope);
    const config = agentConfig(dir, emu, [{ name: 'bench-udp', type: 'udp', listen: '127.0.0.1:0', format: 'jsonl' }], { hub: { batch: { max_wait: '100ms' } } });
    const agent = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false, cpuProfDir });
    const listening = await agent.waitEvent('source_listening', 30_000);
    const buffer = await agent.waitEvent('udp_receive_buffer', 30_000);
    const port = Number(/:(\d+)$/.exec(listening.address)[1]);
    const total = Math.round(rate * seconds);
    const cpu0 = cpuSeconds(agent.pid);
    const threads0 = threadCpu(agent.pid);
    const sendSeconds = await sendAtRate(port, rate, total);
    // Everything sent was either dropped by the kernel or is queued/read: wait until the hub holds
    // what was not dropped (bounded), then read the counters.
    const kernelAfterSend = kernelRow(port);
    let delivered = 0;
    try {
      await waitAccepted(emu, total - (kernelRow(port)?.drops ?? 0), agent, { slackMs: 15_000 });
    } catch {
      // Fewer arrived (dropped by the agent's backlog limit, or slow): the figures say so.
    }
    const cpu = cpuSeconds(agent.pid) - cpu0;
    const threads1 = threadCpu(agent.pid);
    const kernel = kernelRow(port);
    const snap = await emu.summary();
    delivered = snap.counters.datapointsAccepted - snap.counters.overwrites;
    const exit = await agent.stop(20_000);
    if (exit.code !== 0) throw new Error(`the agent did not stop cleanly (${agent.diagnosis()})`);
    const stopped = agent.eventsNamed('udp_source_stopped')[0] ?? {};
    const r = {
      rate,
      total,
      sentRate: total / sendSeconds,
      received: stopped.datagrams ?? NaN,
      delivered,
      kernelDrops: kernel?.drops ?? kernelAfterSend?.drops ?? NaN,
      agentKernelDrops: stopped.kernel_drops ?? NaN,
      agentBacklogDrops: stopped.backlog_drops ?? NaN,
      cpuPerDatagramUs: (cpu / total) * 1e6,
      cpuShare: cpu / sendSeconds,
      mainCpuPerDatagramUs: ((threads1.main - threads0.main) / total) * 1e6,
      otherCpuPerDatagramUs: ((threads1.others - threads0.others) / total) * 1e6,
      grantedBytes: buffer?.granted_bytes,
    };
    log(
      `    ${rate.toLocaleString('en-US')}/s × ${seconds} s: sent ${total.toLocaleString('en-US')} at ${Math.round(r.sentRate).toLocaleString('en-US')}/s; ` +
        `received ${r.received.toLocaleString('en-US')}, delivered ${delivered.toLocaleString('en-US')}; drops: kernel ${r.kernelDrops} (agent's counter ${r.agentKernelDrops}), backlog ${r.agentBacklogDrops}; ` +
        `agent CPU ${r.cpuPerDatagramUs.toFixed(1)} µs/datagram (main thread ${r.mainCpuPerDatagramUs.toFixed(1)}, other threads ${r.otherCpuPerDatagramUs.toFixed(1)}: the UDP receiver and the planner; ${(100 * r.cpuShare).toFixed(0)} % of a core while sending); receive buffer granted ${r.grantedBytes} bytes`,
    );
    return r;
  });
}

export async function run(ctx) {
  // BENCH_UDP_PLAN="rate:seconds,..." runs other rates (e.g. while profiling a change).
  const plan = process.env.BENCH_UDP_PLAN ? process.env.BENCH_UDP_PLAN.split(",").map((p) => p.split(":").map(Number)) : ctx.quick ? [[20_000, 2]] : [[1_000, 3], [50_000, 6], [80_000, 3]];
  const results = [];
  for (const [rate, seconds] of plan) results.push(await once(rate, seconds, ctx.log));
  const at50 = results.find((r) => r.rate === 50_000) ?? results[results.length - 1];
  return {
    figures: [
      ...results.map((r) => ({
        key: `rate_${r.rate}`,
        label: `UDP at ${r.rate.toLocaleString('en-US')} datagrams/s: delivered`,
        unit: 'datagrams/s',
        values: [(r.delivered / r.total) * r.sentRate],
        target: null,
        extra: `sent ${r.total.toLocaleString('en-US')} at ${Math.round(r.sentRate).toLocaleString('en-US')}/s; received ${r.received.toLocaleString('en-US')}; delivered ${r.delivered.toLocaleString('en-US')}; kernel drops ${r.kernelDrops} (agent counter ${r.agentKernelDrops}); backlog drops ${r.agentBacklogDrops}; agent CPU ${r.cpuPerDatagramUs.toFixed(1)} µs per datagram (main thread ${r.mainCpuPerDatagramUs.toFixed(1)}, other threads ${r.otherCpuPerDatagramUs.toFixed(1)}), ${(100 * r.cpuShare).toFixed(0)} % of a core`,
      })),
      {
        key: 'lost',
        label: `UDP at ${at50.rate.toLocaleString('en-US')} datagrams/s: datagrams not delivered`,
        unit: 'datagrams',
        values: [at50.total - at50.delivered],
        target: ctx.quick ? null : { op: '<=', value: 0 },
      },
    ],
    notes: [
      `at ${at50.rate.toLocaleString('en-US')}/s: ${at50.kernelDrops} kernel drops, ${at50.agentBacklogDrops} backlog drops; the sender reached ${Math.round(at50.sentRate).toLocaleString('en-US')}/s`,
      'The sender, the agent and the emulator share this machine\'s 2 cores (and whatever else runs): when the sender reaches less than the rate asked for, the machine is saturated and the ' +
        'burst it sends on catching up, with the agent\'s receiving thread not scheduled meanwhile, is what the kernel drops. Alone, this sender reaches 50,000/s.',
    ],
    method:
      'One JSON reading per datagram (8 sensors × 4 measures, distinct timestamps) sent from the benchmark process to a `udp` source on 127.0.0.1 (port 0, default settings: receive_buffer 4 MiB, ' +
      'hub.batch.max_wait 100ms) at a fixed rate for a fixed count, the sender catching up every millisecond; fresh emulator and state per rate. Delivered = distinct readings the emulator holds; ' +
      'kernel drops from /proc/net/udp by port (and the agent\'s own counter from its stop log); agent CPU from /proc between the first datagram and the last delivery. One run per rate.',
  };
}

export async function profile(ctx, _figures, rate = ctx.quick ? 20_000 : 50_000) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    await once(rate, 4, ctx.log, dir);
    return threadProfilesIn(dir).map((p) => ({ label: `the agent process during one UDP run (node --cpu-prof), ${threadLabel(p.thread)}`, summary: summarizeProfile(p.file) }));
  });
}
