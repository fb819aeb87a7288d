/**
 * `unix` source: newline-delimited records over a Unix stream socket at `path`, created with
 * `mode` (default 0660: the owner and its group may send). A socket file left behind by an
 * agent that died is stale: nobody answers on it, so it is replaced. A socket someone answers
 * on, or a path that is not a socket, is never touched: that is a configuration problem.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from 'pino';
import type { UnixSourceConfig } from '../../config/sources-schema.js';
import type { ParserOptions } from '../../parse/parser.js';
import { SourceStartError } from '../start-error.js';
import { StreamSource, streamOptionsOf, type Listener } from './stream-source.js';

/** True when a process accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

async function clearStale(config: UnixSourceConfig, log: Logger): Promise<void> {
  let stats;
  try {
    stats = await lstat(config.path);
  } catch {
    return; // nothing there
  }
  if (!stats.isSocket()) {
    throw new SourceStartError(config.name, `${config.path} exists and is not a socket`, 'choose another path; the agent does not replace files that are not sockets');
  }
  if (await answers(config.path)) {
    throw new SourceStartError(config.name, `another process listens on ${config.path}`, 'stop it (another agent?) or choose another path');
  }
  await unlink(config.path);
  log.info({ event: 'stale_socket_removed', path: config.path }, 'removed a stale socket file left by an earlier run');
}

export function createUnixSource(config: UnixSourceConfig, ctx: { lane: number; logger: Logger; parserOptions: ParserOptions }): StreamSource {
  const log = ctx.logger.child({ source: config.name });
  let connections = 0;
  let listening = false;
  const listener: Listener = {
    async create(accept) {
      await clearStale(config, log);
      return net.createServer((socket) => accept(socket, `unix:${config.path}#${++connections}`));
    },
    listen: (server) =>
      new Promise((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => {
          const hint = err.code === 'ENOENT' ? 'the folder of `path` does not exist' : err.code === 'EACCES' ? 'the agent may not create files in that folder' : 'check `path`';
          reject(new SourceStartError(config.name, `cannot listen on ${config.path}: ${err.code ?? err.message}`, hint));
        });
        server.listen(config.path, () => {
          listening = true;
          chmod(config.path, config.mode).then(
            () => resolve(`unix:${config.path}`),
            (err: Error) => reject(new SourceStartError(config.name, `cannot set mode ${config.mode.toString(8)} on ${config.path}: ${err.message}`, 'check the folder')),
          );
        });
      }),
    async closed() {
      // net.Server removes its socket file on close; make sure, but only if we created it.
      if (listening) await unlink(config.path).catch(() => undefined);
    },
  };
  return new StreamSource(streamOptionsOf(config, ctx), listener);
}
