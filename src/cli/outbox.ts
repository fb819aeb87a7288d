/**
 * `senseye-agent outbox doctor`: checks the outbox's integrity, lists databases that were moved
 * aside as damaged and what the agent recovered from the last one (readings, file positions,
 * hub sensor ids, and what was lost), and with `--salvage FILE` copies what is readable from a
 * copy into the outbox (once: a copy already recovered is not salvaged again).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { closeNow, integrityCheck } from '../outbox/inspect.js';
import { Outbox, OUTBOX_FILE } from '../outbox/outbox.js';
import { salvage } from '../outbox/salvage.js';
import { OUTBOX_DAMAGE_KEY, salvagedKey, type OutboxDamage } from '../outbox/salvage-state.js';
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
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' }),
  handler: (args) => {
    const config = loadConfigOrReport(args.config);
    if (config === null) return;
    const outbox = openForDoctor(config.state_dir, config.outbox.synchronous, args.salvage === undefined);
    try {
      const integrity = integrityCheck(outbox);
      const damaged = readdirSync(config.state_dir)
        .filter((f) => f.startsWith(`${OUTBOX_FILE}.damaged-`) && !f.endsWith('-wal') && !f.endsWith('-shm'))
        .map((f) => path.join(config.state_dir, f));
      const lastDamage = outbox.state.get<OutboxDamage>(OUTBOX_DAMAGE_KEY)?.value ?? null;
      const copy = args.salvage === undefined ? null : path.resolve(args.salvage);
      // The agent recovers a copy it moves aside; salvaging it again would send its readings twice.
      const alreadySalvaged = copy === null ? null : (outbox.state.get<string>(salvagedKey(copy))?.value ?? null);
      let salvaged = null;
      if (copy !== null && alreadySalvaged === null) {
        salvaged = salvage(copy, outbox);
        if (salvaged.error === undefined) outbox.state.set(salvagedKey(copy), new Date().toISOString());
      }
      const result = { outbox: outbox.file, integrity, damagedCopies: damaged, lastDamage, salvaged, alreadySalvaged };
      if (args.json) printJson(result);
      else {
        process.stdout.write(`outbox ${outbox.file}: integrity ${integrity}\n`);
        if (lastDamage !== null) process.stdout.write(describeDamage(lastDamage));
        for (const f of damaged) {
          const done = outbox.state.get<string>(salvagedKey(f))?.value;
          process.stdout.write(done === undefined ? `damaged copy: ${f}  (recover with --salvage ${f})\n` : `damaged copy: ${f}  (its readable rows were recovered at ${done})\n`);
        }
        if (alreadySalvaged !== null) {
          process.stdout.write(`${copy}: already recovered into this outbox at ${alreadySalvaged}; not salvaged again (its readings would be sent twice)\n`);
        }
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
      closeNow(outbox);
    }
  },
};

/** What `outbox doctor` says about the last damaged outbox: what was recovered, what was lost, what starts again. */
function describeDamage(d: OutboxDamage): string {
  const s = d.salvaged;
  const lines = [
    `last damage: ${d.at}: ${d.problem.replace(/\s*\n\s*/g, '; ')}; moved to ${d.movedTo}`,
    `  recovered: ${s.readings} readings, ${s.spectra} spectra, ${s.deadLetters} dead letters, ${s.positions} file positions, ${s.sensorIds} hub sensor ids`,
  ];
  for (const u of d.unreadable) lines.push(`  could not be read: ${u}`);
  if (d.positionsLost === null) lines.push('  file positions: every one recovered; files went on where they were');
  else {
    lines.push(`  file positions lost (${d.positionsLost}):`);
    for (const f of d.filesStartingAgain ?? []) lines.push(`    source ${f.source}: ${f.files} files started again from their ${f.from}`);
    if (d.filesStartingAgain === null) lines.push('    files without a recovered position are read again when the agent starts');
  }
  return `${lines.join('\n')}\n`;
}

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
