/**
 * `senseye-agent token inspect [--config FILE | --token-file FILE] [--json]`: what the token is
 * and what it allows. Never prints the token. Exit 0 when it can store data (or may: opaque),
 * 1 otherwise.
 */
import type { CommandModule } from 'yargs';
import pino from 'pino';
import { formatTokenReport, reportToken } from '../auth/capabilities.js';
import { MachineTokenProvider } from '../auth/machine-token-provider.js';
import { loadConfigOrReport, printJson } from './common.js';
import { EXIT } from './exit-codes.js';

interface InspectArgs {
  config?: string;
  'token-file'?: string;
  json: boolean;
}

const inspect: CommandModule<object, InspectArgs> = {
  command: 'inspect',
  describe: 'Show the token\'s kind, fingerprint, expiry, permissions and what the agent can do with it (never the token)',
  builder: (y) =>
    y
      .option('config', { alias: 'c', type: 'string', describe: 'Find the token as the agent would with this config' })
      .option('token-file', { type: 'string', describe: 'Read the token from this file instead' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' })
      .conflicts('config', 'token-file'),
  handler: async (args) => {
    let tokenFile = args['token-file'];
    let publicKey: string | undefined;
    if (args.config !== undefined) {
      const config = loadConfigOrReport(args.config);
      if (config === null) return;
      if (config.hub.auth.type === 'user') {
        process.stderr.write('hub.auth.type is user: the agent gets user tokens from the token endpoint; there is no machine token to inspect\n');
        process.exitCode = EXIT.unexpected;
        return;
      }
      tokenFile = config.hub.token_file;
      publicKey = config.hub.token_public_key;
    }
    let provider: MachineTokenProvider;
    try {
      provider = await MachineTokenProvider.create({ tokenFile, env: process.env, publicKey, logger: pino({ level: 'silent' }) });
    } catch (err) {
      process.stderr.write(`senseye-agent: ${(err as Error).message}\n`);
      process.exitCode = EXIT.unexpected;
      return;
    }
    const report = reportToken(provider.current());
    if (args.json) printJson(report);
    else process.stdout.write(`${formatTokenReport(report)}\n`);
    process.exitCode = report.canStoreData === false ? EXIT.unexpected : EXIT.ok;
  },
};

export const tokenCommand: CommandModule = {
  command: 'token <command>',
  describe: 'Inspect the machine token',
  builder: (y) => y.command(inspect).demandCommand(1),
  handler: () => undefined,
};
