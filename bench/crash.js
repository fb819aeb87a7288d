/**
 * Benchmark 8: crash. The end-to-end run (2,000,000 readings from a file, default settings) with
 * the agent SIGKILLed several times while it delivers (at evenly spaced shares of the readings
 * the hub has accepted), restarted at once each time; the last start runs until idle. Then from
 * the emulator's counters: lost = readings − distinct readings held (must be 0), duplicates =
 * `overwrites` (readings stored again for a sensor, measure and instant already held).
 * The bound for duplicates is one in-flight window per kill: concurrency × max_points.
 */
import { startEmulator, uniqueAndDuplicates } from './lib/emulator.js';
import { agentConfig, fileSourceConfig, spawnAgentRun, waitAccepted, writeJsonlInput } from './lib/hub-run.js';
import { withScope } from './lib/scope.js';
import { waitFor, within } from './lib/timing.js';

export const name = 'crash';
export const title = '8. Crash: SIGKILL during delivery, restart';

const CONCURRENCY = 4;
const MAX_POINTS = 5_000;

export async function run(ctx) {
  const readings = ctx.quick ? 200_000 : 2_000_000;
  const kills = 3;
  const window = CONCURRENCY * MAX_POINTS;
  return withScope(async (scope) => {
    const dir = scope.tempDir();
    const { file } = writeJsonlInput(dir, readings);
    const emu = await startEmulator(scope);
    const config = agentConfig(dir, emu, [fileSourceConfig(file)]);
    const perKill = [];
    for (let k = 1; k <= kills; k++) {
      const agent = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: false, logLevel: 'warn' });
      const at = Math.floor((readings * k) / (kills + 1));
      await waitAccepted(emu, at, agent, { intervalMs: 25 });
      agent.signal('SIGKILL');
      await agent.exited;
      const c = (await emu.summary()).counters;
      perKill.push({ at: c.datapointsAccepted, overwritesBefore: c.overwrites });
      ctx.log(`  kill ${k}: SIGKILL with ${c.datapointsAccepted.toLocaleString('en-US')} readings accepted`);
    }
    const last = spawnAgentRun(scope, dir, config, emu, { exitWhenIdle: true, logLevel: 'warn' });
    await waitFor(
      async () => {
        const c = (await emu.summary()).counters;
        return uniqueAndDuplicates(c).unique >= readings ? c : null;
      },
      { what: 'every reading after the last restart', timeoutMs: (readings / 5_000) * 1000 + 60_000, intervalMs: 200, abort: () => (last.exit && last.exit.code !== 0 ? last.diagnosis() : null) },
    );
    const exit = await within(last.exited, 60_000);
    if (exit === null || exit.code !== 0) throw new Error(`the last agent did not finish with exit 0 (${last.diagnosis()})`);
    const c = (await emu.summary()).counters;
    const { unique, duplicates } = uniqueAndDuplicates(c);
    const lost = readings - unique;
    // Duplicates attributable to each kill: overwrites that appeared between that kill and the next one.
    const marks = [...perKill.map((p) => p.overwritesBefore), c.overwrites];
    const each = perKill.map((_, i) => marks[i + 1] - marks[i]);
    ctx.log(`  lost ${lost}; duplicates ${duplicates} (${((100 * duplicates) / readings).toFixed(2)} %), per kill ${each.join(', ')}; bound per kill ${window}`);
    return {
      figures: [
        { key: 'lost', label: 'readings lost', unit: 'readings', values: [lost], target: { op: '<=', value: 0 } },
        {
          key: 'duplicates',
          label: 'duplicates per kill (worst)',
          unit: 'readings',
          values: [Math.max(...each)],
          target: { op: '<=', value: window },
          extra: `per kill: ${each.join(', ')}; one in-flight window = concurrency ${CONCURRENCY} × max_points ${MAX_POINTS.toLocaleString('en-US')}`,
        },
        {
          key: 'duplicate-share',
          label: 'duplicates / readings',
          unit: '%',
          values: [(100 * duplicates) / readings],
          target: null,
          extra: `${duplicates.toLocaleString('en-US')} of ${readings.toLocaleString('en-US')} over ${kills} kills (${((100 * duplicates) / readings / kills).toFixed(3)} % per kill); Fluent Bit, per the issue: 3–4 % after one SIGKILL`,
        },
      ],
      method:
        `${readings.toLocaleString('en-US')} readings from a file (8 sensors × 4 measures), default settings (synchronous=full, concurrency ${CONCURRENCY}, max_points ${MAX_POINTS}); ` +
        `the agent is SIGKILLed ${kills} times, when the hub has accepted ${Array.from({ length: kills }, (_, i) => `${i + 1}/${kills + 1}`).join(', ')} of the readings (polled every 25 ms), and restarted at once; ` +
        'the last start runs until idle; lost and duplicates from the emulator\'s counters (every reading is a distinct sensor, measure and instant). One run.',
    };
  });
}
