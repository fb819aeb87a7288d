/**
 * `senseye-agent dlq list|replay|purge`: inspect and recover dead letters. Works on the state
 * directory directly; SQLite's locking makes it safe while the daemon runs.
 */
import type { Argv, CommandModule } from 'yargs';
import type { Config } from '../config/schema.js';
import type { DeadLetterFilter, DeadLetterRow } from '../outbox/dead-letters.js';
import { closeNow } from '../outbox/inspect.js';
import { Outbox } from '../outbox/outbox.js';
import { DEAD_LETTER_STAGES, type DeadLetterStage } from '../outbox/types.js';
import { replayDeadLetters } from '../outbox/replay.js';
import { invalid } from '../parse/reading.js';
import { FORMATS } from '../parse/registry.js';
import { parserOptionsOf, sensorIdsOf } from '../sources/parser-options.js';
import { INVALID_UTF8 } from '../sources/utf8.js';
import { configOption, loadConfigOrReport, printJson } from './common.js';
import { EXIT } from './exit-codes.js';

interface DlqArgs {
  config: string;
  json?: boolean;
  id?: number[];
  all?: boolean;
  source?: string;
  stage?: DeadLetterStage;
  limit?: number;
}

function filterOf(args: DlqArgs): DeadLetterFilter {
  return { ids: args.id, source: args.source, stage: args.stage, limit: args.limit };
}

function selection(y: Argv<object>) {
  return y
    .option('config', configOption)
    .option('id', { type: 'number', array: true, describe: 'Dead letter ids (see dlq list)' })
    .option('all', { type: 'boolean', describe: 'Every dead letter matching --source/--stage' })
    .option('source', { type: 'string', describe: 'Only dead letters of this source ("hub" for readings the hub refused)' })
    .option('stage', { choices: DEAD_LETTER_STAGES, describe: 'parse: invalid input; hub: refused by the hub; expired: not delivered within hub.retry.max_age' })
    .check((a) => {
      if (a.id === undefined && a.all !== true) return 'name dead letters with --id, or take them all with --all';
      return true;
    });
}

function withOutbox(args: DlqArgs, work: (outbox: Outbox, config: Config) => void): void {
  const config = loadConfigOrReport(args.config);
  if (config === null) return;
  const outbox = Outbox.inStateDir(config.state_dir, { synchronous: config.outbox.synchronous });
  try {
    work(outbox, config);
  } finally {
    closeNow(outbox);
  }
}

const list: CommandModule<object, DlqArgs> = {
  command: 'list',
  describe: 'List dead letters: what failed, where, and why',
  builder: (y) =>
    y
      .option('config', configOption)
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' })
      .option('source', { type: 'string', describe: 'Only this source' })
      .option('stage', { choices: DEAD_LETTER_STAGES, describe: 'parse: invalid input; hub: refused by the hub; expired: not delivered within hub.retry.max_age' })
      .option('limit', { type: 'number', default: 100, describe: 'At most this many rows' }),
  handler: (args) =>
    withOutbox(args, (outbox) => {
      const rows = outbox.deadLetters.list(filterOf(args));
      if (args.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no dead letters\n');
      for (const r of rows) process.stdout.write(`${formatRow(r)}\n`);
      const total = outbox.deadLetters.count({ source: args.source, stage: args.stage });
      if (total > rows.length) process.stdout.write(`… ${total - rows.length} more (use --limit)\n`);
    }),
};

const replay: CommandModule<object, DlqArgs> = {
  command: 'replay',
  describe: 'Move dead letters back into the outbox (input lines are parsed again with the current config)',
  builder: (y) => selection(y),
  handler: (args) =>
    withOutbox(args, (outbox, config) => {
      const rows = outbox.deadLetters.list({ ...filterOf(args), limit: undefined });
      const result = replayDeadLetters(outbox, rows, (row) => {
        const source = config.sources.find((s) => s.name === row.source);
        if (source === undefined) return null;
        // Its raw text has U+FFFD where the bad bytes were: parsed, it would be delivered altered.
        if (row.reason.startsWith(INVALID_UTF8)) return invalid(`${row.reason.split(':')[0]}: the raw text kept here is not what was written, so it cannot be replayed; fix the file's encoding and let the agent read it again`);
        // A message's dead letter holds its topic and the head of its payload (binary for Sparkplug B), not always all of it.
        if (source.type === 'mqtt') return invalid('an MQTT dead letter keeps the head of the message, not always all of it: publish the message again to the broker');
        // The source's own settings (sensor, precision, csv layout, input limits), as when it was read.
        return FORMATS[source.format](parserOptionsOf(source, sensorIdsOf(config.sensors)), null).parseLine(row.raw ?? '');
      });
      process.stdout.write(`replayed ${result.replayed} dead letters (${result.readings} readings back in the outbox)\n`);
      for (const f of result.failed) process.stdout.write(`  #${f.id} kept: ${f.reason}\n`);
      if (result.failed.length > 0) process.exitCode = EXIT.partial;
    }),
};

const purge: CommandModule<object, DlqArgs> = {
  command: 'purge',
  describe: 'Delete dead letters for good',
  builder: (y) => selection(y),
  handler: (args) =>
    withOutbox(args, (outbox) => {
      const n = outbox.deadLetters.delete({ ids: args.id, source: args.source, stage: args.stage });
      process.stdout.write(`deleted ${n} dead letters\n`);
    }),
};

export const dlqCommand: CommandModule = {
  command: 'dlq <command>',
  describe: 'Inspect, replay or purge dead letters',
  builder: (y) => y.command(list).command(replay).command(purge).demandCommand(1),
  handler: () => undefined,
};

function formatRow(r: DeadLetterRow): string {
  const where = r.stage !== 'parse' ? `${r.sensor}/${r.measure} @ ${r.ts === null ? '?' : new Date(r.ts).toISOString()}` : `${r.origin ?? '?'}${r.line === null ? '' : `:${r.line}`}`;
  const raw = r.raw === null ? '' : `  raw: ${r.raw.length > 120 ? `${r.raw.slice(0, 120)}…` : r.raw}`;
  return `#${r.id} ${new Date(r.at).toISOString()} [${r.stage}] ${r.source} ${where}: ${r.reason}${raw}`;
}
