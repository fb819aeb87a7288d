/**
 * The hub emulator as its own process (`senseye-agent emulator --record count`), so it never
 * shares the agent's event loop; `count` keeps counters and the newest 10,000 request-log entries
 * only, so millions of readings stay cheap. Control goes through its /_emulator/ endpoints.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BIN } from './paths.js';

export async function startEmulator(scope, { args = [], timeoutMs = 15_000 } = {}) {
  const child = scope.track(
    spawn(process.execPath, [BIN, 'emulator', '--record', 'count', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator: no ready line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`emulator: unexpected first line ${line.slice(0, 200)}`));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
    });
  });
  lines.on('line', () => undefined); // nothing else is printed without --verbose; keep the pipe drained

  const control = async (method, route, body) => {
    const res = await fetch(`${ready.url}/_emulator/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`emulator ${method} /_emulator/${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  return {
    url: ready.url,
    token: ready.token,
    pid: child.pid,
    child,
    /** Counters and sensors only (cheap to poll). */
    summary: () => control('GET', 'snapshot?summary=1'),
    /** Counters plus the request log (newest 10,000 entries in count mode). */
    snapshot: (since) => control('GET', since === undefined ? 'snapshot' : `snapshot?since=${since}`),
    accepted: async () => (await control('GET', 'snapshot?summary=1')).counters.datapointsAccepted,
    addFault: (fault) => control('POST', 'faults', fault),
    setRateLimit: (rateLimit) => control('POST', 'faults', { rateLimit }),
    clearFaults: () => control('POST', 'faults', { clear: true }),
    reset: () => control('POST', 'reset', {}),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Readings the hub holds at least once, and how many arrived more than once, from its counters:
 * `overwrites` counts points stored again for a (sensor, measure, instant) already held.
 */
export function uniqueAndDuplicates(counters) {
  return { unique: counters.datapointsAccepted - counters.overwrites, duplicates: counters.overwrites };
}

/** Data requests (GraphQL) in a request log. */
export function dataRequests(requests) {
  return requests.filter((r) => r.path.endsWith('/graphql'));
}
