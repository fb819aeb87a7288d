/** The command line: one module per command, registered here. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { backfillCommand } from './backfill.js';
import { configCommand } from './config-check.js';
import { demoCommand } from './demo.js';
import { dlqCommand } from './dlq.js';
import { outboxCommand } from './outbox.js';
import { statusCommand } from './status.js';
import { tokenCommand } from './token.js';
import { emulatorCommand } from './emulator.js';
import { isOutboxRefusal } from '../outbox/db.js';
import { EXIT } from './exit-codes.js';
import { runCommand } from './run.js';
import { VERSION } from './version.js';

export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  const cli = yargs(argv)
    .scriptName('senseye-agent')
    .usage('$0 <command> [options]\n\nMoves machine readings from files into Senseye\'s Internal Hub through a durable SQLite outbox.')
    .command(runCommand)
    .command(emulatorCommand)
    .command(backfillCommand)
    .command(statusCommand)
    .command(dlqCommand)
    .command(outboxCommand)
    .command(tokenCommand)
    .command(configCommand)
    .command(demoCommand)
    .demandCommand(1, 'Name a command (see the list above).')
    .strict()
    .version(VERSION)
    .alias('h', 'help')
    .alias('V', 'version')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .epilogue('Exit codes: 0 ok, 1 unexpected error, 75 stopped before finishing (data kept), 78 configuration error.')
    .fail((message, err) => {
      // Usage problems (yargs' own YError, or a failed .check) exit 78; anything else is a bug.
      if (err instanceof Error && err.name !== 'YError') throw err;
      process.stderr.write(`senseye-agent: ${message ?? String(err)}\nRun senseye-agent --help for usage.\n`);
      process.exit(EXIT.config);
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    // The outbox's own refusals (older or newer schema, an agent running on it, a failed
    // upgrade) say what to do: their message, not a stack trace. The state is kept: try again.
    if (!isOutboxRefusal(err)) throw err;
    process.stderr.write(`senseye-agent: ${err.message}\n`);
    process.exitCode = EXIT.tempfail;
  }
}
