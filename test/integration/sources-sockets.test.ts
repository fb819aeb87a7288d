// Socket sources in-process against a stand-in outbox (sources-harness.ts), on 127.0.0.1 only:
// many TCP clients, a client leaving mid-line, over-long lines, UDP bursts, a Unix socket with
// its mode and a stale socket file, TLS and mutual TLS, idle timeout, and backpressure.
import pino from 'pino';
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../src/config/sources-schema.js';
import { createSource } from '../../src/sources/registry.js';
import type { Source } from '../../src/sources/source.js';
import { SourceStartError } from '../../src/sources/start-error.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Harness, quietLogger } from './sources-harness.js';

const T0 = Date.UTC(2026, 10, 27, 8);
const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
});

function line(sensor: string, i: number): string {
  return JSON.stringify({ sensor, measure: 'm', ts: new Date(T0 + i * 1000).toISOString(), value: i }) + '\n';
}

async function startSource(settings: Record<string, unknown>, logger = quietLogger): Promise<{ h: Harness; source: Source & { address?: string | null } }> {
  const config = sourceSchema.parse({ name: 'sock', format: 'jsonl', ...settings });
  const source = createSource(config, { lane: 0, checkpoints: [], logger }) as Source & { address?: string | null };
  const h = new Harness();
  harnesses.push(h);
  h.start(source);
  await source.whenStarted?.();
  return { h, source };
}

function portOf(source: { address?: string | null }): number {
  return Number(/:(\d+)$/.exec(source.address ?? '')![1]);
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

describe('tcp source', () => {
  it('logs a flood of refused connections as a few counted lines, not one line each', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const { source } = await startSource({ type: 'tcp', listen: '127.0.0.1:0', max_connections: 2 }, logger);
    const port = portOf(source);
    const kept = await Promise.all([connect(port), connect(port)]);
    // 200 more: each accepted by the kernel and dropped by the server at once.
    const flood = await Promise.all(Array.from({ length: 200 }, () => connect(port).catch(() => null)));
    await Promise.all(flood.map((s) => (s === null ? undefined : closed(s))));
    const refused = lines.filter((l) => l.event === 'connection_refused');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(3); // one at once, then at most one per 10 s
    expect(refused[0]).toMatchObject({ count: 1, max_connections: 2 });
    for (const s of kept) s.destroy();
  });

  it('takes several clients at once, writes split at random places, every line exactly once', async () => {
    const { h, source } = await startSource({ type: 'tcp', listen: '127.0.0.1:0' });
    const port = portOf(source);
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => connect(port)));
    await Promise.all(
      clients.map(async (c, k) => {
        let text = '';
        for (let i = 0; i < 300; i++) text += line(`c${k}`, i);
        // Cut into uneven pieces, so lines are split across packets.
        for (let at = 0; at < text.length; ) {
          const n = 1 + ((at * 7919 + k * 31) % 997);
          c.write(text.slice(at, at + n));
          at += n;
        }
        await new Promise<void>((r) => c.end(() => r()));
      }),
    );
    await waitFor(() => h.readings.length >= 1500, '1500 readings');
    for (let k = 0; k < 5; k++) {
      expect(h.readings.filter((r) => r.sensor === `c${k}`).map((r) => r.value)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    }
    expect(h.dead).toEqual([]);
  });

  it('dead-letters the unfinished line of a client that disconnects mid-line, naming the peer', async () => {
    const { h, source } = await startSource({ type: 'tcp', listen: '127.0.0.1:0' });
    const c = await connect(portOf(source));
    const local = `tcp://127.0.0.1:${c.localPort}`;
    c.write(line('a', 1) + line('a', 2) + '{"sensor":"a","measure":"m","ts":"2026-11-27T08:00:0');
    c.end();
    await waitFor(() => h.dead.length === 1, 'the partial line as a dead letter');
    expect(h.values()).toEqual([1, 2]);
    expect(h.dead[0]).toMatchObject({ origin: local, line: 3, raw: '{"sensor":"a","measure":"m","ts":"2026-11-27T08:00:0' });
    expect(h.dead[0]!.reason).toMatch(/before this record's newline/);
  });

  it('dead-letters a line over max_line_bytes (first 4 KiB kept) and the connection goes on', async () => {
    const { h, source } = await startSource({ type: 'tcp', listen: '127.0.0.1:0', max_line_bytes: '1KiB' });
    const c = await connect(portOf(source));
    c.write(line('a', 1));
    c.write('x'.repeat(3000));
    c.write('y'.repeat(5000) + '\n');
    c.write(line('a', 2));
    await waitFor(() => h.readings.length === 2, 'the lines around the long one');
    c.write(line('a', 3));
    await waitFor(() => h.readings.length === 3, 'a line after it on the same connection');
    expect(h.dead).toHaveLength(1);
    expect(h.dead[0]!.line).toBe(2);
    expect(h.dead[0]!.raw).toBe('x'.repeat(3000) + 'y'.repeat(1096));
    expect(h.dead[0]!.reason).toMatch(/over the 1024-byte limit/);
    c.destroy();
  });

  it('closes a connection idle for idle_timeout', async () => {
    const { h, source } = await startSource({ type: 'tcp', listen: '127.0.0.1:0', idle_timeout: '150ms' });
    const c = await connect(portOf(source));
    c.write(line('a', 1));
    await closed(c);
    expect(h.values()).toEqual([1]);
  });

  it('pushes back on the sender while nothing is committed, and loses nothing once commits resume', async () => {
    const { h, source } = await startSource({ type: 'tcp', listen: '127.0.0.1:0' });
    h.autoCommit = false; // the outbox is "full and blocking": no chunk is acknowledged
    const c = await connect(portOf(source));
    const total = 250_000; // ~20 MB, far more than the kernel's socket buffers and the source hold
    let i = 0;
    let blocked = false;
    let flushed = false;
    const pump = () => {
      while (i < total) {
        let batch = '';
        for (let k = 0; k < 200 && i < total; k++) batch += line('bp', i++);
        if (!c.write(batch)) {
          blocked = true;
          c.once('drain', pump);
          return;
        }
      }
      c.end(() => (flushed = true));
    };
    let stalls = 0;
    const watching = source.stalls$!.subscribe(() => stalls++);
    pump();
    // Preconditions, each a condition: the source says it waits for commits, and the sender's
    // kernel buffers are full (write() refused more).
    await waitFor(() => h.uncommitted >= 4 && stalls > 0, 'the in-flight limit reached, and the source waiting on it');
    await waitFor(() => blocked, 'the sender held back by the kernel');
    // The kernel's buffers go on taking bytes for a while after the source stops reading (a busy
    // machine drains them late): wait until the sender has stopped advancing, bytes still queued.
    let last = -1;
    let since = Date.now();
    await waitFor(() => {
      if (i !== last) [last, since] = [i, Date.now()];
      return Date.now() - since >= 500 && c.writableLength > 0;
    }, 'the sender stalled with bytes it cannot hand the kernel');
    const emitted = h.uncommitted;
    const sent = i;
    // A stall is the absence of progress: it can only be watched for a while.
    await new Promise((r) => setTimeout(r, 300));
    watching.unsubscribe();
    // Stalled: no more chunks, and the sender can hand the kernel nothing more.
    expect(h.uncommitted).toBe(emitted);
    expect(emitted).toBeLessThanOrEqual(4);
    expect(blocked).toBe(true);
    expect(i).toBe(sent);
    expect(i).toBeLessThan(total);
    expect(flushed).toBe(false);
    h.autoCommit = true;
    h.commit();
    await waitFor(() => h.readings.length >= total, 'every line once commits resume', { timeoutMs: 30_000 });
    const values = h.values().map(Number);
    expect(values).toEqual(Array.from({ length: total }, (_, k) => k));
  });

  it('reports a port in use by source name', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const config = sourceSchema.parse({ name: 'taken', type: 'tcp', format: 'jsonl', listen: `127.0.0.1:${port}` });
    const source = createSource(config, { lane: 0, checkpoints: [], logger: quietLogger });
    const h = new Harness();
    h.start(source);
    const err = await source.whenStarted!().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SourceStartError);
    expect((err as Error).message).toMatch(/source "taken": cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    await h.stop();
    blocker.close();
  });
});

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function makeCerts(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca']);
  for (const name of ['server', 'client']) {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'client'}`]);
    writeFileSync(path.join(dir, `${name}.ext`), name === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  }
}

describe.skipIf(!hasOpenssl)('tcp source with TLS', () => {
  it('serves TLS, and with client_ca takes only clients with a certificate from that CA', async () => {
    const dir = tempDir('senseye-tls-');
    makeCerts(dir);
    const f = (n: string) => path.join(dir, n);
    const { h, source } = await startSource({
      type: 'tcp',
      listen: '127.0.0.1:0',
      tls: { cert: f('server.pem'), key: f('server.key'), client_ca: f('ca.pem') },
    });
    const port = portOf(source);
    const ca = execFileSync('cat', [f('ca.pem')]);
    const good = tls.connect({ port, host: '127.0.0.1', ca, cert: execFileSync('cat', [f('client.pem')]), key: execFileSync('cat', [f('client.key')]) });
    await new Promise<void>((r, j) => good.once('secureConnect', () => r()).once('error', j));
    good.end(line('tls', 1));
    await waitFor(() => h.readings.length === 1, 'the line over mutual TLS');
    const anonymous = tls.connect({ port, host: '127.0.0.1', ca });
    const refused = await new Promise<boolean>((r) => {
      anonymous.once('error', () => r(true));
      anonymous.once('close', () => r(true));
      anonymous.once('secureConnect', () => anonymous.write(line('tls', 2), () => setTimeout(() => r(anonymous.destroyed), 300)));
    });
    expect(refused).toBe(true);
    expect(h.values()).toEqual([1]);
  });

  it('reports an unreadable certificate by source name', async () => {
    const config = sourceSchema.parse({ name: 'bad-tls', type: 'tcp', format: 'jsonl', listen: '127.0.0.1:0', tls: { cert: '/nonexistent.pem', key: '/nonexistent.key' } });
    const source = createSource(config, { lane: 0, checkpoints: [], logger: quietLogger });
    const h = new Harness();
    h.start(source);
    await expect(source.whenStarted!()).rejects.toThrow(/source "bad-tls": cannot read the TLS certificate \/nonexistent\.pem: ENOENT/);
    await h.stop();
  });
});

describe('udp source', () => {
  it('takes bursts of datagrams with several records each (the last without its newline)', async () => {
    const { h, source } = await startSource({ type: 'udp', listen: '127.0.0.1:0', format: 'influx' });
    const port = portOf(source);
    const client = dgram.createSocket('udp4');
    let sent = 0;
    for (let burst = 0; burst < 20; burst++) {
      await Promise.all(
        Array.from({ length: 25 }, () => {
          const base = sent;
          sent += 3;
          const msg = `m,sensor=u v=${base}i ${(T0 + base) * 1e6}\nm,sensor=u v=${base + 1}i ${(T0 + base + 1) * 1e6}\nm,sensor=u v=${base + 2}i ${(T0 + base + 2) * 1e6}`;
          return new Promise<void>((r) => client.send(msg, port, '127.0.0.1', () => r()));
        }),
      );
      await waitFor(() => h.readings.length >= sent, `burst ${burst}`);
    }
    client.close();
    expect(h.values().map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(h.dead).toEqual([]);
  });

  it('dead-letters a bad record with the sender address, keeping the good ones of the datagram', async () => {
    const { h, source } = await startSource({ type: 'udp', listen: '127.0.0.1:0', format: 'influx' });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => client.send(`m,sensor=u v=1 ${T0 * 1e6}\nm,sensor=u v=oops ${T0 * 1e6}\n`, portOf(source), '127.0.0.1', () => r()));
    await waitFor(() => h.dead.length === 1 && h.readings.length === 1, 'one reading and one dead letter');
    expect(h.dead[0]!.origin).toBe(`udp://127.0.0.1:${client.address().port}`);
    client.close();
  });
});

describe('unix source', () => {
  it('listens with mode 0660, replacing a stale socket file left by a killed process', async () => {
    const dir = tempDir('senseye-unix-');
    const sock = path.join(dir, 'agent.sock');
    // A process that dies without cleaning up leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(sock)).toBe(true);
    const { h } = await startSource({ type: 'unix', path: sock });
    expect(statSync(sock).mode & 0o777).toBe(0o660);
    const c = net.connect(sock);
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.end(line('unix', 1) + line('unix', 2));
    await waitFor(() => h.readings.length === 2, 'two lines over the Unix socket');
    expect(h.values()).toEqual([1, 2]);
    await h.stop();
    expect(existsSync(sock)).toBe(false);
  });

  it('refuses to replace a file that is not a socket, or a socket another process answers on', async () => {
    const dir = tempDir('senseye-unix-');
    const file = path.join(dir, 'not-a-socket');
    writeFileSync(file, 'data');
    const a = createSource(sourceSchema.parse({ name: 'u1', type: 'unix', format: 'jsonl', path: file }), { lane: 0, checkpoints: [], logger: quietLogger });
    const ha = new Harness();
    ha.start(a);
    await expect(a.whenStarted!()).rejects.toThrow(/source "u1": .* exists and is not a socket/);
    await ha.stop();
    const live = path.join(dir, 'live.sock');
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(live, () => r()));
    const b = createSource(sourceSchema.parse({ name: 'u2', type: 'unix', format: 'jsonl', path: live }), { lane: 0, checkpoints: [], logger: quietLogger });
    const hb = new Harness();
    hb.start(b);
    await expect(b.whenStarted!()).rejects.toThrow(/source "u2": another process listens/);
    await hb.stop();
    other.close();
  });
});
