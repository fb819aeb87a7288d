/**
 * Benchmark 11: side by side with Fluent Bit in one run (issue 17). The reference build in
 * ../shared/reference/fluent-bit (or BENCH_FLUENT_BIT_DIR) runs its tail.conf and tcp.conf, and the
 * agent the same pipelines (file → outbox → HTTP; TCP JSON lines → outbox → HTTP), one after the
 * other, alternating which goes first, on inputs of the same readings, each against the same
 * minimal sink (bench/lib/min-sink.js). Ratios are taken inside one run: on 2 shared cores a
 * figure from another hour is no comparison. Optional: without the binary it is skipped with a note.
 *
 * BENCH_VS_TAIL (readings in the file, default 2,000,000), BENCH_VS_TCP (default 1,000,000),
 * BENCH_VS_RUNS (pairs of runs, default 2), BENCH_VS_SMALL=0 (skip the small-gateway variant),
 * BENCH_VS_INLINE=0 (skip the variant with the planner on the main thread),
 * BENCH_VS_EMULATOR=0 (skip measuring the emulator's own cost per reading).
 */
import { threadLabel, threadProfilesIn } from './lib/agent.js';
import { summarizeProfile } from './lib/profile.js';
import { agentConfig, cpuSeconds, fileSourceConfig, spawnAgentRun, waitAccepted } from './lib/hub-run.js';
import { startEmulator } from './lib/emulator.js';
import { withScope } from './lib/scope.js';
import { summarize } from './lib/stats.js';
import { FLUENT_BIT, fluentBitPresent, inputBytes, runAgent, runFluentBit, writeInput } from './lib/versus-runs.js';

export const name = 'versus';
export const title = '11. Side by side with Fluent Bit 5.1.1 (one run)';
export const bounds =
  'See "Side by side with Fluent Bit" in docs/performance.md: the agent\'s CPU per reading (JSON.parse / CSV split, ' +
  'one SQLite row per reading, one string per encoded point) and V8\'s heap (young generation and not-yet-collected ' +
  'garbage) against Fluent Bit\'s C pipeline with msgpack chunks in jemalloc.';

/** The small-gateway setting of docs/performance.md ("Small gateways"). */
export const SMALL_GATEWAY = {
  label: 'small gateway',
  nodeOptions: '--max-semi-space-size=2 --max-old-space-size=64',
  config: { hub: { planner_thread: false }, outbox: { cache_size: '2MiB' } },
};

/** The defaults but rounds planned on the main thread: what the planner worker's heap costs and buys, in the same run. */
export const INLINE_PLANNER = { label: 'planner on the main thread', config: { hub: { planner_thread: false } } };

const env = (k, d) => (process.env[k] === undefined ? d : Number(process.env[k]));

function sizes(ctx) {
  if (ctx.smoke) return { tail: 20_000, tcp: 10_000, runs: 1 };
  if (ctx.quick) return { tail: 200_000, tcp: 100_000, runs: 1 };
  return { tail: env('BENCH_VS_TAIL', 2_000_000), tcp: env('BENCH_VS_TCP', 1_000_000), runs: env('BENCH_VS_RUNS', 2) };
}

/** The emulator's CPU per reading, from one agent run of the tail input against it (the sink's is in every run). */
async function emulatorCost(readings, file, log) {
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const emu = await startEmulator(scope);
    const config = agentConfig(dir, emu, [{ ...fileSourceConfig(file, 'csv'), columns: { ts: 0, sensor: 1, measure: 2, value: 3 }, header: false }], { hub: { batch: { max_wait: '1s' } } });
    const cpu0 = cpuSeconds(emu.pid);
    const agent = spawnAgentRun(scope, dir, config, emu);
    await waitAccepted(emu, readings, agent);
    const us = (1e6 * (cpuSeconds(emu.pid) - cpu0)) / readings;
    await agent.stop(20_000);
    log(`    emulator: ${us.toFixed(2)} µs CPU per reading`);
    return us;
  });
}

const med = (rs, k) => summarize(rs.map((r) => r[k])).median;

export async function run(ctx) {
  if (!fluentBitPresent()) {
    ctx.log(`  skipped: no Fluent Bit binary at ${FLUENT_BIT} (set BENCH_FLUENT_BIT_DIR)`);
    return { figures: [], method: 'skipped', notes: [`skipped: no Fluent Bit binary at ${FLUENT_BIT}; set BENCH_FLUENT_BIT_DIR to the reference folder`] };
  }
  const { tail, tcp, runs } = sizes(ctx);
  const small = process.env.BENCH_VS_SMALL !== '0';
  const inline = process.env.BENCH_VS_INLINE !== '0';
  const variants = [{ key: 'agent', variant: {} }, ...(inline ? [{ key: 'inline', variant: INLINE_PLANNER }] : []), ...(small ? [{ key: 'small', variant: SMALL_GATEWAY }] : [])];
  const res = { tail: { fb: [], agent: [], inline: [], small: [] }, tcp: { fb: [], agent: [], inline: [], small: [] } };
  let emuUs = NaN;
  await withScope(async (scope) => {
    const dir = scope.tempDir();
    const files = { fb: writeInput(dir, 'fb.csv', inputBytes('fbCsv', tail)), agent: writeInput(dir, 'agent.csv', inputBytes('agentCsv', tail)) };
    const tcpBytes = { fb: inputBytes('fbJson', tcp), agent: inputBytes('agentJson', tcp) };
    ctx.log(`  tail: ${tail.toLocaleString('en-US')} readings; tcp: ${tcp.toLocaleString('en-US')} readings on one connection; ${runs} alternating run(s) of each side`);
    for (let i = 0; i < runs; i++) {
      for (const kind of ['tail', 'tcp']) {
        const sides = [
          ['fb', () => withScope((s) => runFluentBit(s, kind, kind === 'tail' ? tail : tcp, kind === 'tail' ? files.fb : tcpBytes.fb, ctx.log))],
          ...variants.map(({ key, variant }) => [key, () => withScope((s) => runAgent(s, kind, kind === 'tail' ? tail : tcp, kind === 'tail' ? files.agent : tcpBytes.agent, ctx.log, variant))]),
        ];
        if (i % 2 === 1) sides.reverse();
        for (const [key, fn] of sides) res[kind][key].push(await fn());
      }
    }
    if (process.env.BENCH_VS_EMULATOR !== '0') emuUs = await emulatorCost(Math.min(tail, 500_000), files.agent, ctx.log);
  });

  const figures = [];
  const lead = [];
  for (const kind of ['tail', 'tcp']) {
    const fb = res[kind].fb;
    const ag = res[kind].agent;
    const ratio = ag.map((a, i) => a.rate / fb[i].rate);
    const cpuRatio = ag.map((a, i) => a.cpuUsPerReading / fb[i].cpuUsPerReading);
    const what = kind === 'tail' ? 'file tail' : 'TCP';
    figures.push(
      { key: `${kind}-ratio`, label: `${what}: agent / Fluent Bit readings/s`, unit: 'x', values: ratio, target: { op: '>=', value: kind === 'tail' ? 1.5 : 1.0 },
        extra: `agent ${Math.round(med(ag, 'rate')).toLocaleString('en-US')} readings/s, Fluent Bit ${Math.round(med(fb, 'rate')).toLocaleString('en-US')} (medians; ratio per pair of runs)` },
      { key: `${kind}-cpu`, label: `${what}: CPU per reading, agent / Fluent Bit`, unit: 'x', values: cpuRatio, target: { op: '<=', value: 1.0 },
        extra: `agent ${med(ag, 'cpuUsPerReading').toFixed(2)} µs, Fluent Bit ${med(fb, 'cpuUsPerReading').toFixed(2)} µs` },
      { key: `${kind}-rss`, label: `${what}: agent peak RSS`, unit: 'MiB', values: ag.map((r) => r.peakRssMiB), target: { op: '<=', value: 160 },
        extra: `Fluent Bit ${med(fb, 'peakRssMiB').toFixed(0)} MiB` },
      { key: `${kind}-anon`, label: `${what}: agent peak RssAnon (private memory)`, unit: 'MiB', values: ag.map((r) => r.peakAnonMiB), target: { op: '<=', value: 110 },
        extra: `Fluent Bit ${med(fb, 'peakAnonMiB').toFixed(0)} MiB` },
    );
    lead.push(
      [`${what}: readings/s`, med(ag, 'rate'), med(fb, 'rate'), summarize(ratio).median, kind === 'tail' ? '≥ 1.5x' : '≥ 1.0x', 'rate'],
      [`${what}: CPU per reading (µs)`, med(ag, 'cpuUsPerReading'), med(fb, 'cpuUsPerReading'), summarize(cpuRatio).median, '≤ 1.0x', 'us'],
      [`${what}: peak RSS (MiB)`, med(ag, 'peakRssMiB'), med(fb, 'peakRssMiB'), med(ag, 'peakRssMiB') / med(fb, 'peakRssMiB'), '≤ 160 MiB', 'mib'],
      [`${what}: peak RssAnon (MiB)`, med(ag, 'peakAnonMiB'), med(fb, 'peakAnonMiB'), med(ag, 'peakAnonMiB') / med(fb, 'peakAnonMiB'), '≤ 110 MiB', 'mib'],
    );
    if (inline) {
      const il = res[kind].inline;
      const ilRatio = il.map((a, i) => a.rate / fb[i].rate);
      figures.push(
        { key: `${kind}-inline-ratio`, label: `${what}: planner on the main thread / Fluent Bit readings/s`, unit: 'x', values: ilRatio, target: null,
          extra: `${Math.round(med(il, 'rate')).toLocaleString('en-US')} readings/s, ${med(il, 'cpuUsPerReading').toFixed(2)} µs CPU per reading, peak RSS ${med(il, 'peakRssMiB').toFixed(0)} MiB, RssAnon ${med(il, 'peakAnonMiB').toFixed(0)} MiB (hub.planner_thread: false)` },
      );
      lead.push(
        [`${what}, planner on the main thread: readings/s`, med(il, 'rate'), med(fb, 'rate'), summarize(ilRatio).median, '—', 'rate'],
        [`${what}, planner on the main thread: CPU per reading (µs)`, med(il, 'cpuUsPerReading'), med(fb, 'cpuUsPerReading'), med(il, 'cpuUsPerReading') / med(fb, 'cpuUsPerReading'), '—', 'us'],
        [`${what}, planner on the main thread: peak RSS (MiB)`, med(il, 'peakRssMiB'), med(fb, 'peakRssMiB'), med(il, 'peakRssMiB') / med(fb, 'peakRssMiB'), '—', 'mib'],
      );
    }
    if (small) {
      const sm = res[kind].small;
      const smRatio = sm.map((a, i) => a.rate / fb[i].rate);
      figures.push(
        { key: `${kind}-small-rss`, label: `${what}: small-gateway setting, peak RSS`, unit: 'MiB', values: sm.map((r) => r.peakRssMiB), target: { op: '<=', value: 128 },
          extra: `${SMALL_GATEWAY.nodeOptions} with ${JSON.stringify(SMALL_GATEWAY.config)}; peak RssAnon ${med(sm, 'peakAnonMiB').toFixed(0)} MiB; ${med(sm, 'cpuUsPerReading').toFixed(2)} µs CPU per reading` },
        { key: `${kind}-small-ratio`, label: `${what}: small-gateway setting / Fluent Bit readings/s`, unit: 'x', values: smRatio, target: { op: '>=', value: 1.0 },
          extra: `${Math.round(med(sm, 'rate')).toLocaleString('en-US')} readings/s` },
      );
      lead.push(
        [`${what}, small gateway: readings/s`, med(sm, 'rate'), med(fb, 'rate'), summarize(smRatio).median, '≥ 1.0x', 'rate'],
        [`${what}, small gateway: peak RSS (MiB)`, med(sm, 'peakRssMiB'), med(fb, 'peakRssMiB'), med(sm, 'peakRssMiB') / med(fb, 'peakRssMiB'), '≤ 128 MiB', 'mib'],
      );
    }
  }
  const idle = res.tcp.agent.map((r) => r.idleRssMiB);
  figures.push({ key: 'idle-rss', label: 'agent idle RSS (TCP source listening, before any input)', unit: 'MiB', values: idle, target: { op: '<=', value: 90 },
    extra: `RssAnon ${med(res.tcp.agent, 'idleAnonMiB').toFixed(0)} MiB${small ? `; small-gateway setting ${med(res.tcp.small, 'idleRssMiB').toFixed(0)} MiB` : ''}` });
  const after = [...res.tail.agent, ...res.tcp.agent];
  figures.push({ key: 'after-rss', label: 'agent RSS 5 s after delivering everything (idle after load)', unit: 'MiB', values: after.map((r) => r.afterRssMiB), target: { op: '<=', value: 90 },
    extra: `RssAnon ${med(after, 'afterAnonMiB').toFixed(0)} MiB${small ? `; small-gateway setting ${med([...res.tail.small, ...res.tcp.small], 'afterRssMiB').toFixed(0)} MiB` : ''}` });
  const sinkUs = med([...res.tail.agent, ...res.tcp.agent], 'sinkCpuUsPerReading');
  const sinkFbUs = med([...res.tail.fb, ...res.tcp.fb], 'sinkCpuUsPerReading');
  const emuNote = Number.isFinite(emuUs)
    ? `The emulator costs ${emuUs.toFixed(2)} µs of CPU per reading against the minimal sink's ${sinkUs.toFixed(2)} µs (agent's requests) and ${sinkFbUs.toFixed(2)} µs (Fluent Bit's json_lines): on 2 cores the emulator would take CPU from whichever side it serves, so the comparison uses the sink.`
    : `The minimal sink costs ${sinkUs.toFixed(2)} µs of CPU per reading for the agent's requests and ${sinkFbUs.toFixed(2)} µs for Fluent Bit's json_lines.`;
  return {
    figures,
    lead,
    method:
      `tail: ${tail.toLocaleString('en-US')} readings in a CSV file (Fluent Bit: \`ts,sensor.measure,value,seq\` with its regex parser; agent: \`ts,sensor,measure,value\`, a \`csv\` file source), ` +
      `tcp: ${tcp.toLocaleString('en-US')} JSON lines on one connection (Fluent Bit \`{"ts","sensor","value","seq"}\`; agent \`{"ts","sensor","measure","value"}\`), 8 sensors × 4 measures; ` +
      'Fluent Bit with the reference\'s tail.conf / tcp.conf (filesystem buffer, storage.sync normal, 2 HTTP workers, Flush 1); the agent with its defaults (outbox synchronous=full) except hub.batch.max_wait 1s (Fluent Bit flushes every second); ' +
      'each against a fresh minimal HTTP sink process (bench/lib/min-sink.js) that JSON-parses every body and marks each sequence number; ' +
      'clock from spawn (tail) or connect (tcp) to the sink holding every reading; CPU = utime+stime (/proc/PID/stat) over the same span; peak RSS = VmHWM; peak RssAnon sampled every 100 ms. ' +
      `${runs} pair(s) of runs, the order alternating; ratios per pair, then the median.`,
    notes: [emuNote],
  };
}

/** One profiled agent run per pipeline (node --cpu-prof): where the agent's CPU per reading goes. */
export async function profile(ctx) {
  const { tail, tcp } = sizes(ctx);
  const out = [];
  await withScope(async (scope) => {
    const dir = scope.tempDir();
    const inputs = { tail: writeInput(dir, 'agent.csv', inputBytes('agentCsv', tail)), tcp: inputBytes('agentJson', tcp) };
    for (const kind of ['tail', 'tcp']) {
      const profDir = scope.tempDir();
      await withScope((s) => runAgent(s, kind, kind === 'tail' ? tail : tcp, inputs[kind], ctx.log, { label: 'profiled', cpuProfDir: profDir }));
      for (const p of threadProfilesIn(profDir)) out.push({ label: `the agent, ${kind} (node --cpu-prof), ${threadLabel(p.thread)}`, summary: summarizeProfile(p.file) });
    }
  });
  return out;
}
