/**
 * `tcp` source: newline-delimited records over TCP, optionally TLS (`tls.cert`, `tls.key`, and
 * `tls.client_ca` to require client certificates: mutual TLS). Listens on 127.0.0.1 unless the
 * config names another host. Certificates are loaded at start: a file that cannot be read or
 * used is a configuration problem reported by source name, like a port that is taken.
 */
import { readFile } from 'node:fs/promises';
import net, { type AddressInfo, type Server } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { LogEvery } from '../../observability/log-every.js';
import type { TcpSourceConfig } from '../../config/sources-schema.js';
import type { ParserOptions } from '../../parse/parser.js';
import { SourceStartError } from '../start-error.js';
import { formatListen } from '../../config/listen-address.js';
import { StreamSource, streamOptionsOf, type Listener } from './stream-source.js';

export function peerOf(scheme: string, socket: net.Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

/** Listens on a TCP address, mapping the usual failures to an operator's terms. */
export function listenTcp(name: string, server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = formatListen({ host, port });
      const hint =
        err.code === 'EADDRINUSE'
          ? 'another process listens there: stop it or choose another port'
          : err.code === 'EACCES'
            ? 'ports below 1024 need privileges: choose a port above 1023'
            : err.code === 'EADDRNOTAVAIL'
              ? 'this machine has no such address: check the host part of `listen`'
              : 'check `listen`';
      reject(new SourceStartError(name, `cannot listen on ${where}: ${err.code ?? err.message}`, hint));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve(formatListen({ host: a.address, port: a.port }));
    });
  });
}

async function loadTls(config: TcpSourceConfig): Promise<tls.TlsOptions> {
  const t = config.tls!;
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new SourceStartError(config.name, `cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, 'check tls settings and file permissions');
    }
  };
  const options: tls.TlsOptions = { cert: await read(t.cert, 'certificate'), key: await read(t.key, 'key') };
  if (t.client_ca !== undefined) {
    options.ca = await read(t.client_ca, 'client CA');
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new SourceStartError(config.name, `TLS certificate or key not usable: ${(err as Error).message}`, 'tls.cert must be a PEM certificate (chain) and tls.key its PEM private key');
  }
  return options;
}

export function createTcpSource(config: TcpSourceConfig, ctx: { lane: number; logger: Logger; parserOptions: ParserOptions }): StreamSource {
  const log = ctx.logger.child({ source: config.name });
  const listener: Listener = {
    async create(accept) {
      if (config.tls === undefined) return net.createServer((socket) => accept(socket, peerOf('tcp', socket)));
      const server = tls.createServer(await loadTls(config), (socket) => accept(socket, peerOf('tls', socket)));
      const refused = new LogEvery(log, 'tls_refused', 'TLS handshake refused');
      server.on('tlsClientError', (err, socket) => refused.hit({ peer: peerOf('tls', socket), reason: err.message }));
      return server;
    },
    listen: (server) => listenTcp(config.name, server, config.listen.host, config.listen.port),
  };
  return new StreamSource(streamOptionsOf(config, ctx), listener);
}
