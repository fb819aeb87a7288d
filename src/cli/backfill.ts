/**
 * `senseye-agent backfill --config FILE [options] PATH...`: pushes historical files through the
 * same outbox and delivery engine, resumably, with progress; exits when the hub has accepted
 * everything it read. Exit codes: 0 delivered, 2 some records rejected (dead-lettered), 75
 * stopped before delivery finished (data kept for the next run), 78 configuration or argument
 * error, 1 unexpected.
 */
import pino from 'pino';
import type { CommandModule } from 'yargs';
import { createCredentialProvider } from '../auth/credentials.js';
import { TokenRejectedError } from '../auth/machine-token-provider.js';
import { TokenNotFoundError } from '../auth/token-sources.js';
import { dryRun } from '../backfill/dry-run.js';
import { expandInputs, InputError } from '../backfill/inputs.js';
import { JobBusyError } from '../outbox/backfill-jobs.js';
import { createProgress } from '../backfill/progress.js';
import { runBackfill, type BackfillResult } from '../backfill/runner.js';
import { HubTlsError } from '../net/tls.js';
import { backfillSources } from '../backfill/source-configs.js';
import { parseDuration, formatDuration } from '../config/units.js';
import { createLogger } from '../observability/logger.js';
import { parseRfc3339 } from '../parse/timestamp.js';
import { sensorIdsOf } from '../sources/parser-options.js';
import { configOption, loadConfigOrReport, logLevelOption, printJson } from './common.js';
import type { LogLevel } from '../config/schema.js';
import { EXIT } from './exit-codes.js';
import { isOutboxRefusal, OutboxOpenError } from '../outbox/db.js';
import { VERSION } from './version.js';

interface BackfillArgs {
  config: string;
  paths: string[];
  format?: string;
  sensor?: string;
  source?: string;
  from?: string;
  to?: string;
  'max-rate'?: number;
  'dry-run': boolean;
  json: boolean;
  timeout: string;
  'log-level': LogLevel;
}

const FORMAT_KEYS = ['timezone', 'epoch_unit', 'precision', 'sensor_tag', 'columns', 'delimiter', 'header', 'sensor'];

function argError(message: string): void {
  process.stderr.write(`senseye-agent backfill: ${message}\n`);
  process.exitCode = EXIT.config;
}

function parseTime(label: string, text: string | undefined): number | null | undefined {
  if (text === undefined) return null;
  const withTime = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const parsed = parseRfc3339(withTime);
  if (!parsed.ok) {
    argError(`--${label}: ${parsed.reason} (a date such as 2026-01-31 is taken as midnight UTC)`);
    return undefined;
  }
  return parsed.ms;
}

export const backfillCommand: CommandModule<object, BackfillArgs> = {
  command: 'backfill <paths..>',
  describe: 'Deliver historical files (files, folders, globs, .gz) through the outbox; resumable; exits when the hub accepted everything',
  builder: (y) =>
    y
      .positional('paths', { type: 'string', array: true, describe: 'Files, folders (read recursively) or globs', demandOption: true })
      .option('config', configOption)
      .option('format', { type: 'string', describe: 'Format of every file (default: from each file\'s extension: .jsonl .json .csv .lp)' })
      .option('sensor', { type: 'string', describe: 'Sensor for records that do not name one' })
      .option('source', { type: 'string', describe: 'Take format settings (timezone, CSV columns, …) from this configured source' })
      .option('from', { type: 'string', describe: 'Only readings at or after this time (RFC 3339, or a date = midnight UTC)' })
      .option('to', { type: 'string', describe: 'Only readings before this time' })
      .option('max-rate', { type: 'number', describe: 'Points per second sent to the hub at most' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Parse and validate everything; send nothing; report counts per file and every problem' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON' })
      .option('timeout', { type: 'string', default: '10m', describe: 'Stop (exit 75, data kept) when delivery makes no progress for this long' })
      .option('log-level', { ...logLevelOption, default: 'warn' as LogLevel, describe: 'Log level of the log on stderr' }),
  handler: async (args) => {
    const config = loadConfigOrReport(args.config);
    if (config === null) return;
    const from = parseTime('from', args.from);
    const to = parseTime('to', args.to);
    if (from === undefined || to === undefined) return;
    const timeoutMs = parseDuration(args.timeout);
    if (timeoutMs === undefined) return argError(`--timeout: expected a duration like 10m, found "${args.timeout}"`);
    let settings: Record<string, unknown> = {};
    if (args.source !== undefined) {
      const source = config.sources.find((s) => s.name === args.source);
      if (source === undefined) return argError(`--source: no source named "${args.source}" in ${args.config}`);
      settings = Object.fromEntries(Object.entries(source).filter(([k]) => FORMAT_KEYS.includes(k)));
    }
    const format = args.format ?? (args.source !== undefined ? (config.sources.find((s) => s.name === args.source)!.format as string) : null);
    let files;
    try {
      files = await expandInputs(args.paths, format);
    } catch (err) {
      if (err instanceof InputError) return argError(err.message);
      throw err;
    }
    const logger = createLogger({ level: args['log-level'], destination: pino.destination({ fd: 2, sync: true }) });
    const sensor = args.sensor ?? null;
    let configs;
    try {
      configs = backfillSources(files, 0, sensor, settings);
    } catch (err) {
      return argError(`the files cannot be read with these settings: ${(err as Error).message}`);
    }

    if (args['dry-run']) {
      const report = await dryRun(configs, { from, to }, logger, sensorIdsOf(config.sensors));
      if (args.json) printJson(report);
      else {
        for (const f of report.files) process.stdout.write(`${f.path}: ${f.readings} readings, ${f.spectra} spectra, ${f.invalid} invalid\n`);
        for (const p of report.problems) process.stdout.write(`  ${p.file}${p.line === null ? '' : `:${p.line}`}: ${p.reason}\n`);
        const total = report.files.reduce((n, f) => n + f.readings + f.spectra, 0);
        process.stdout.write(`dry run: ${files.length} files, ${total} readings valid, ${report.problems.length} problems, ${report.filtered} outside --from/--to; nothing was sent\n`);
      }
      process.exitCode = report.problems.length > 0 ? EXIT.partial : EXIT.ok;
      return;
    }

    let credentials;
    try {
      credentials = await createCredentialProvider(config, process.env, logger);
    } catch (err) {
      if (err instanceof TokenNotFoundError || err instanceof TokenRejectedError || err instanceof HubTlsError) return argError(err.message);
      throw err;
    }
    let interrupt: () => void = () => undefined;
    const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals === 1) {
        process.stderr.write('\nstopping: committing what was read; run the same command again to continue (Ctrl-C again to quit at once)\n');
        interrupt();
      } else process.exit(EXIT.tempfail);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result: BackfillResult;
    try {
      result = await runBackfill({
        config,
        files,
        sensor,
        sourceSettings: settings,
        window: { from, to },
        maxRate: args['max-rate'] ?? null,
        timeoutMs,
        credentials,
        logger,
        progress: createProgress({ tty: process.stderr.isTTY === true && !args.json }),
        version: VERSION,
        interrupted,
      });
    } catch (err) {
      if (err instanceof HubTlsError) return argError(err.message);
      if (err instanceof JobBusyError || err instanceof OutboxOpenError || isOutboxRefusal(err)) {
        process.stderr.write(`senseye-agent backfill: ${(err as Error).message}\n`);
        process.exitCode = EXIT.tempfail;
        return;
      }
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (args.json) printJson(result);
    else process.stdout.write(formatSummary(result));
    process.exitCode =
      result.outcome === 'delivered' || result.outcome === 'nothing_new'
        ? result.rejected + result.invalid > 0
          ? EXIT.partial
          : EXIT.ok
        : result.outcome === 'failed'
          ? EXIT.unexpected
          : EXIT.tempfail;
  },
};

function formatSummary(r: BackfillResult): string {
  const seconds = r.elapsedMs / 1000;
  const lines: string[] = [];
  if (r.outcome === 'nothing_new') lines.push(`backfill: already complete; nothing new to send (${r.files} files)`);
  else if (r.outcome === 'delivered') {
    lines.push(
      `backfill: ${r.delivered} readings delivered from ${r.files} files in ${formatDuration(r.elapsedMs)} ` +
        `(${Math.round(r.delivered / Math.max(seconds, 0.001))}/s)${r.resumed ? ', resumed' : ''}`,
    );
  } else {
    lines.push(
      `backfill: stopped before delivery finished (${r.stoppedBecause ?? r.outcome}); ${r.delivered} delivered, ${r.waiting} kept in the outbox. ` +
        'Run the same command again to continue.',
    );
  }
  if (r.filtered > 0) lines.push(`  ${r.filtered} readings outside --from/--to were skipped`);
  if (r.invalid + r.rejected > 0) {
    lines.push(`  ${r.invalid} invalid records and ${r.rejected} readings refused by the hub are in the dead-letter table (senseye-agent dlq list):`);
    for (const reason of r.reasons) lines.push(`    ${reason.count} × ${reason.reason} (e.g. ${reason.example})`);
  }
  return `${lines.join('\n')}\n`;
}
