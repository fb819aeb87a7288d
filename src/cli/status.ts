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

/**
 * What delivery is doing, consistent with the counts: the last state a daemon wrote is only
 * "now" while that daemon runs; "idle" is never printed beside readings that wait.
 */
function deliveryLine(r: StatusReport): string {
  const waiting = r.counts.depth + r.counts.spectra.depth;
  if (r.daemon === null) {
    const last = r.delivery === null ? 'never ran' : `last ${r.delivery.state} at ${r.delivery.updatedAt}`;
    return `not running (${last})${waiting > 0 ? `; ${waiting} wait for the agent to start` : ''}`;
  }
  const who = ` (pid ${r.daemon.pid}${r.daemon.startedAt === null ? '' : `, running since ${r.daemon.startedAt}`})`;
  if (r.delivery === null || r.delivery.pid !== r.daemon.pid) return `starting${who}`;
  if (r.delivery.state === 'idle' && waiting > 0) {
    const sensors = Object.keys(r.waitingSensors).length;
    return sensors > 0 ? `waiting: ${sensors} sensors cannot be delivered yet (see below)${who}` : `about to send ${waiting} readings${who}`;
  }
  return `${describeState(r.delivery)}${who}`;
}

export function formatStatus(r: StatusReport): string {
  const c = r.counts;
  const lines = [
    `state dir      ${r.stateDir} (outbox ${(r.outboxBytes / 1024 / 1024).toFixed(1)} MiB)`,
    `delivery       ${deliveryLine(r)}`,
    `waiting        ${c.depth} readings, ${c.spectra.depth} spectra${r.oldestWaiting ? `; oldest from ${r.oldestWaiting.ts} (${formatDuration(r.oldestWaiting.ageMs)} ago)` : ''}`,
    `delivered      ${c.delivered} readings, ${c.spectra.delivered} spectra`,
    `dead letters   ${r.deadLetters.parse} invalid input, ${r.deadLetters.hub} refused by the hub${r.deadLetters.expired > 0 ? `, ${r.deadLetters.expired} expired (hub.retry.max_age)` : ''}${c.dropped > 0 ? `; ${c.dropped} readings dropped (outbox full)` : ''}`,
  ];
  for (const [sensor, reason] of Object.entries(r.waitingSensors)) lines.push(`sensor waiting ${sensor}: ${reason}`);
  for (const p of r.sourceProblems) {
    const h = p.health;
    if (h.state === 'running') continue;
    lines.push(`source down    ${p.source} since ${new Date(h.downSince).toISOString()} (${h.restarts} restarts, ${h.state}): ${h.reason}`);
  }
  if (r.sources.length > 0) {
    lines.push('sources');
    for (const s of r.sources) {
      // An mqtt source's row is its session (the broker holds the position): messages taken by its last run.
      const where = /^(mqtts?|wss?):\/\//.test(s.path) ? `${s.line} messages taken by the last run` : `line ${s.line}, byte ${s.offset}`;
      lines.push(`  ${s.source}  ${s.path}  ${where}  (${s.updatedAt})`);
    }
  }
  return `${lines.join('\n')}\n`;
}
