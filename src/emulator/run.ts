/**
 * Runs the emulator as a foreground service, the way `senseye-agent emulator` does: start,
 * print one JSON line `{"url","token","publicKey"}` as the first line on stdout, then print
 * nothing else there (except one JSON line per hub request when verbose), and stop cleanly on
 * SIGTERM or SIGINT (also during start-up, in which case no ready line is printed). Resolves
 * only once the server is closed. The signal source and output are injectable so the lifecycle
 * is testable in-process.
 */
import { createHubEmulator, type EmulatorOptions } from './server.js';
import type { RequestLogEntry } from './store-types.js';

export interface ServeOptions extends Omit<EmulatorOptions, 'onRequest'> {
  /** One JSON line per hub request on stdout. */
  verbose?: boolean;
}

export interface ServeIo {
  /** Writes one line (without its newline). */
  out: (line: string) => void;
  signals: {
    once(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
    off(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  };
}

const processIo: ServeIo = {
  out: (line) => {
    process.stdout.write(`${line}\n`);
  },
  signals: process,
};

function requestLine(e: RequestLogEntry): string {
  return JSON.stringify({
    seq: e.seq,
    method: e.method,
    path: e.path,
    status: e.status,
    ms: e.finishedAt - e.receivedAt,
    points: e.pointCount,
    error: e.errorCode,
    fault: e.fault,
  });
}

export async function serveEmulator(opts: ServeOptions = {}, io: ServeIo = processIo): Promise<void> {
  const { verbose, ...emulatorOptions } = opts;
  // Listen for the stop signals before anything else, above all before the ready line: a parent
  // may send SIGTERM the moment it reads that line, and a signal without a listener kills the
  // process with the default action (seen as exit by signal instead of exit code 0).
  let stopRequested = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      stopRequested = true;
      io.signals.off('SIGTERM', stop);
      io.signals.off('SIGINT', stop);
      resolve();
    };
    io.signals.once('SIGTERM', stop);
    io.signals.once('SIGINT', stop);
  });
  const emulator = await createHubEmulator({
    ...emulatorOptions,
    ...(verbose ? { onRequest: (e: RequestLogEntry) => io.out(requestLine(e)) } : {}),
  });
  if (!stopRequested) {
    io.out(JSON.stringify({ url: emulator.url, token: emulator.token, publicKey: emulator.publicKeyPaserk }));
  }
  await stopped;
  await emulator.close();
}
