/**
 * `senseye-agent outbox doctor`: checks the outbox's integrity, lists databases that were moved
 * aside as damaged, and with `--salvage FILE` copies what is readable from one into the outbox.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { Outbox, OUTBOX_FILE } from '../outbox/outbox.js';
import { salvage } from '../outbox/salvage.js';
import { configOption, loadConfigOrReport, printJson } from './common.js';
import { EXIT } from './exit-codes.js';

interface DoctorArgs {
  config: string;
  salvage?: string;
  json: boolean;
}

const doctor: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe: 'Check the outbox database; with --salvage, recover readable rows from a damaged copy',
  builder: (y) =>
    y
      .option('config', configOption)
      .option('salvage', { type: 'string', describe: 'A moved-aside damaged database (outbox.db.damaged-…) to recover rows from' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' }) as never,
  handler: (args) => {
    const config = loadConfigOrReport(args.config);
    if (config === null) return;
    const outbox = openForDoctor(config.state_dir, config.outbox.synchronous, args.salvage === undefined);
    try {
      const integrity = outbox.db.pragma('integrity_check', { simple: true }) as string;
      const damaged = readdirSync(config.state_dir)
        .filter((f) => f.startsWith(`${OUTBOX_FILE}.damaged-`) && !f.endsWith('-wal') && !f.endsWith('-shm'))
        .map((f) => path.join(config.state_dir, f));
      const salvaged = args.salvage === undefined ? null : salvage(path.resolve(args.salvage), outbox);
      const result = { outbox: outbox.file, integrity, damagedCopies: damaged, salvaged };
      if (args.json) printJson(result);
      else {
        process.stdout.write(`outbox ${outbox.file}: integrity ${integrity}\n`);
        for (const f of damaged) process.stdout.write(`damaged copy: ${f}  (recover with --salvage ${f})\n`);
        if (salvaged !== null) {
          if (salvaged.error) process.stdout.write(`salvage failed: ${salvaged.error}\n`);
          process.stdout.write(
            `salvaged ${salvaged.readings} readings, ${salvaged.spectra} spectra, ${salvaged.deadLetters} dead letters into the outbox\n`,
          );
          for (const w of salvaged.unreadableWindows) process.stdout.write(`  unreadable: ${w.table} ids ${w.fromId}..${w.toId}: ${w.error}\n`);
        }
      }
      if (integrity !== 'ok' || salvaged?.error !== undefined) process.exitCode = EXIT.unexpected;
    } finally {
      outbox.db.close();
    }
  },
};

/**
 * Read-only unless salvaging (so the check works on a full disk and beside a running agent);
 * read-write when the schema must be upgraded first, as before.
 */
function openForDoctor(stateDir: string, synchronous: 'full' | 'normal', readOnly: boolean): Outbox {
  if (readOnly) {
    try {
      return Outbox.inStateDir(stateDir, { readonly: true });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'SENSEYE_OUTBOX_TOO_OLD') throw err;
    }
  }
  return Outbox.inStateDir(stateDir, { synchronous });
}

export const outboxCommand: CommandModule = {
  command: 'outbox <command>',
  describe: 'Maintain the outbox database',
  builder: (y) => y.command(doctor).demandCommand(1),
  handler: () => undefined,
};
