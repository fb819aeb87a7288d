/** `senseye-agent status --config FILE [--json]`: the state directory at a glance; safe while the daemon runs. */
import type { CommandModule } from 'yargs';
import { readStatus, type StatusReport } from '../daemon/status.js';
import { describeState } from '../hub/delivery-state.js';
import { formatDuration } from '../config/units.js';
import { configOption, loadConfigOrReport, printJson } from './common.js';
import { EXIT } from './exit-codes.js';

interface StatusArgs {
  config: string;
  json: boolean;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'Show the outbox, delivery state, dead letters and source positions (read-only; safe while the daemon runs)',
  builder: (y) => y.option('config', configOption).option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' }),
  handler: (args) => {
    const config = loadConfigOrReport(args.config);
    if (config === null) return;
    const report = readStatus(config.state_dir, Date.now(), config.sources.map((s) => s.name));
    if (report === null) {
      process.stderr.write(`no outbox in ${config.state_dir} yet: the agent has not run with this state_dir\n`);
      process.exitCode = EXIT.unexpected;
      return;
    }
    if (args.json) printJson(report);
    else process.stdout.write(formatStatus(report));
  },
};

export function formatStatus(r: StatusReport): string {
  const c = r.counts;
  const lines = [
    `state dir      ${r.stateDir} (outbox ${(r.outboxBytes / 1024 / 1024).toFixed(1)} MiB)`,
    `delivery       ${r.delivery === null ? 'unknown (never ran)' : describeState(r.delivery)}${r.delivery?.pid ? ` (pid ${r.delivery.pid}, written ${r.delivery.updatedAt})` : ''}`,
    `waiting        ${c.depth} readings, ${c.spectra.depth} spectra${r.oldestWaiting ? `; oldest from ${r.oldestWaiting.ts} (${formatDuration(r.oldestWaiting.ageMs)} ago)` : ''}`,
    `delivered      ${c.delivered} readings, ${c.spectra.delivered} spectra`,
    `dead letters   ${r.deadLetters.parse} invalid input, ${r.deadLetters.hub} refused by the hub${c.dropped > 0 ? `; ${c.dropped} readings dropped (outbox full)` : ''}`,
  ];
  for (const [sensor, reason] of Object.entries(r.waitingSensors)) lines.push(`sensor waiting ${sensor}: ${reason}`);
  for (const p of r.sourceProblems) {
    const h = p.health;
    if (h.state === 'running') continue;
    lines.push(`source down    ${p.source} since ${new Date(h.downSince).toISOString()} (${h.restarts} restarts, ${h.state}): ${h.reason}`);
  }
  if (r.sources.length > 0) {
    lines.push('sources');
    for (const s of r.sources) lines.push(`  ${s.source}  ${s.path}  line ${s.line}, byte ${s.offset}  (${s.updatedAt})`);
  }
  return `${lines.join('\n')}\n`;
}
