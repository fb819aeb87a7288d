/**
 * `senseye-agent emulator`: runs the local Internal Hub emulator in the foreground.
 * The first stdout line is one JSON object `{"url","token","publicKey"}` for scripts and tests
 * to read; nothing else goes to stdout except one JSON line per request with --verbose.
 * SIGTERM / SIGINT close the server, and the handler resolves once it is closed (exit 0).
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { parsePermissionList } from '../auth/permissions.js';
import { parseDuration } from '../emulator/duration.js';
import type { EmulatorTls } from '../emulator/server.js';
import { serveEmulator } from '../emulator/run.js';
import { EXIT } from './exit-codes.js';

/** `--expires-in`: a duration (90s, 15m, 1h, 7d) or never/permanent; absent = permanent. */
export function parseExpiresIn(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = value.trim().toLowerCase();
  if (v === 'never' || v === 'permanent' || v === 'none') return null;
  return parseDuration(v);
}

function builder(y: Argv) {
  return y
    .option('port', {
      type: 'number',
      default: 0,
      describe: 'TCP port to listen on; 0 picks a free one (printed in the first stdout line)',
    })
    .option('host', {
      type: 'string',
      default: '127.0.0.1',
      describe: 'Address to bind; keep 127.0.0.1 unless you know why not (control endpoints have no auth)',
    })
    .option('permissions', {
      type: 'string',
      default: 'write,create',
      describe:
        'Permissions of the default token: comma-separated full names or short names (write, create, external-id-read, external-id-write)',
    })
    .option('expires-in', {
      type: 'string',
      describe: 'Lifetime of the default token, e.g. 90s, 15m, 1h, 7d; omit (or "never") for a permanent token',
    })
    .option('record', {
      choices: ['full', 'count'] as const,
      default: 'full' as const,
      describe: 'full: keep every accepted data point for inspection; count: counters only (large benchmarks)',
    })
    .option('response-shape', {
      choices: ['standard', 'documented'] as const,
      default: 'standard' as const,
      describe:
        'GraphQL success shape: standard {"data":{"storeSensorMeasureData":{...}}} or documented {"data":{"clientMutationId":...}}',
    })
    .option('max-body-bytes', {
      type: 'number',
      default: 1024 * 1024,
      describe: 'Request bodies above this many bytes are answered 413',
    })
    .option('latency-ms', {
      type: 'number',
      default: 0,
      describe: 'Milliseconds added before every hub answer',
    })
    .option('mapping-id-permissions', {
      type: 'string',
      default: 'external-id-read,external-id-write',
      describe: 'Permissions needed (besides Internal Hub Write) to address sensors by mappingId',
    })
    .option('tls-cert', {
      type: 'string',
      describe: 'Serve HTTPS with this PEM certificate (needs --tls-key)',
    })
    .option('tls-key', {
      type: 'string',
      describe: 'The PEM private key of --tls-cert',
    })
    .option('tls-client-ca', {
      type: 'string',
      describe: 'Require client certificates that chain to this PEM CA (mutual TLS; needs --tls-cert)',
    })
    .option('verbose', {
      type: 'boolean',
      default: false,
      describe: 'Print one JSON line per hub request on stdout',
    })
    // A check answers with a message (not a throw): yargs reports it as a usage error, exit 78.
    .check((argv) => {
      try {
        parseExpiresIn(argv['expires-in']);
      } catch (err) {
        return `--expires-in: ${(err as Error).message}`;
      }
      if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535) return '--port must be 0-65535';
      if (!(argv['max-body-bytes'] > 0)) return '--max-body-bytes must be > 0';
      if (!(argv['latency-ms'] >= 0)) return '--latency-ms must be >= 0';
      if ((argv['tls-cert'] === undefined) !== (argv['tls-key'] === undefined)) return '--tls-cert and --tls-key go together';
      if (argv['tls-client-ca'] !== undefined && argv['tls-cert'] === undefined) return '--tls-client-ca needs --tls-cert and --tls-key';
      return true;
    });
}

type EmulatorArgs = ReturnType<typeof builder> extends Argv<infer U> ? U : never;

export const emulatorCommand: CommandModule<object, EmulatorArgs> = {
  command: 'emulator',
  describe: 'Run a local Internal Hub emulator (for tests, benchmarks and the demo)',
  builder,
  handler: async (argv) => {
    let tls: EmulatorTls | undefined;
    try {
      tls = argv.tlsCert === undefined || argv.tlsKey === undefined ? undefined : readTls(argv.tlsCert, argv.tlsKey, argv.tlsClientCa);
    } catch (err) {
      process.stderr.write(`senseye-agent emulator: ${(err as Error).message}\n`);
      process.exitCode = EXIT.config;
      return;
    }
    await serveEmulator({
      host: argv.host,
      port: argv.port,
      permissions: parsePermissionList(argv.permissions),
      expiresIn: parseExpiresIn(argv.expiresIn),
      record: argv.record,
      responseShape: argv.responseShape,
      maxBodyBytes: argv.maxBodyBytes,
      latencyMs: argv.latencyMs,
      mappingIdPermissions: parsePermissionList(argv.mappingIdPermissions),
      verbose: argv.verbose,
      ...(tls === undefined ? {} : { tls }),
    });
  },
};

/** The PEM files of --tls-cert, --tls-key and --tls-client-ca; an unreadable one ends the command with its name. */
function readTls(cert: string, key: string, clientCa: string | undefined): EmulatorTls {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${flag} ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  return {
    cert: read('--tls-cert', cert),
    key: read('--tls-key', key),
    ...(clientCa === undefined ? {} : { clientCa: read('--tls-client-ca', clientCa) }),
  };
}
