// Long lines on stream sockets (issue #14, item 1), TCP on 127.0.0.1 and a Unix socket in a temp
// folder, through the real pipeline into a real outbox (pipeline-rig.ts): a line under
// max_line_bytes but longer than what a connection gathers before pausing is delivered; a line
// far over it is skipped to its newline and dead-lettered with its first 4 KiB; the connection
// goes on either way, and memory stays bounded while a 50 MB line streams through.
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../src/config/sources-schema.js';
import { createSource } from '../../src/sources/registry.js';
import type { Source } from '../../src/sources/source.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { PipelineRig } from './pipeline-rig.js';
import { quietLogger } from './sources-harness.js';

const MiB = 1024 * 1024;
const rigs: PipelineRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.stop();
});

function reading(i: number, value: unknown = i): string {
  return JSON.stringify({ sensor: 'a', measure: 'm', ts: new Date(Date.UTC(2026, 0, 7) + i * 1000).toISOString(), value }) + '\n';
}

type Kind = 'tcp' | 'unix';

async function startRig(kind: Kind): Promise<{ rig: PipelineRig; connect: () => Promise<net.Socket> }> {
  const settings = kind === 'tcp' ? { type: 'tcp', listen: '127.0.0.1:0' } : { type: 'unix', path: path.join(tempDir(), 'in.sock') };
  const config = sourceSchema.parse({ name: 'sock', format: 'jsonl', max_line_bytes: '1MiB', ...settings });
  const source = createSource(config, { lane: 0, checkpoints: [], logger: quietLogger }) as Source & { address: string | null };
  const rig = new PipelineRig(source);
  rigs.push(rig);
  await source.whenStarted?.();
  const target = kind === 'tcp' ? { port: Number(/:(\d+)$/.exec(source.address!)![1]), host: '127.0.0.1' } : { path: (config as { path: string }).path };
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(target, () => resolve(s));
      s.once('error', reject);
    });
  return { rig, connect };
}

/** Writes `bytes` bytes of 'x' (from one reused 64 KiB buffer), honouring the socket's drain. */
async function writeFiller(socket: net.Socket, bytes: number): Promise<void> {
  const piece = Buffer.alloc(64 * 1024, 'x');
  for (let left = bytes; left > 0; ) {
    const n = Math.min(left, piece.length);
    left -= n;
    if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) await new Promise((r) => socket.once('drain', r));
  }
}

describe.each<Kind>(['tcp', 'unix'])('%s source, long lines', (kind) => {
  it('delivers a 300 KB line (under max_line_bytes) and the lines after it; the connection keeps being read', async () => {
    const { rig, connect } = await startRig(kind);
    const c = await connect();
    const long = 'x'.repeat(300_000);
    c.write(reading(0, long));
    c.write(reading(1));
    await waitFor(() => rig.readings().length === 2, 'the long reading and the one after it');
    // Still read: a line sent later on the same connection arrives too (it was not paused for good).
    c.write(reading(2));
    await waitFor(() => rig.readings().length === 3, 'a later line on the same connection');
    const values = rig.readings().map((r) => r.value);
    expect(values[0]).toBe(long);
    expect(values.slice(1)).toEqual([1, 2]);
    expect(rig.deadLetters()).toEqual([]);
    c.destroy();
  });

  it('skips a 50 MB line to its newline, dead-letters its first 4 KiB with the reason, delivers the line after it, memory bounded', async () => {
    const { rig, connect } = await startRig(kind);
    const c = await connect();
    c.write(reading(0));
    await waitFor(() => rig.readings().length === 1, 'the first line');
    const head = '{"sensor":"a","measure":"m","ts":"2026-01-07T00:00:00Z","value":"';
    const longBytes = 50 * 1000 * 1000;
    global.gc?.();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakBuffers = base.arrayBuffers;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    }, 5);
    try {
      c.write(head);
      await writeFiller(c, longBytes - head.length - 3);
      c.write('"}\n');
      c.write(reading(1));
      await waitFor(() => rig.readings().length === 2, 'the line after the long one', { timeoutMs: 60_000 });
    } finally {
      clearInterval(sampler);
    }
    c.write(reading(2));
    await waitFor(() => rig.readings().length === 3, 'a later line on the same connection');
    expect(rig.readings().map((r) => r.value)).toEqual([0, 1, 2]);
    const dead = rig.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.line).toBe(2);
    expect(dead[0]!.raw).toBe((head + 'x'.repeat(5000)).slice(0, 4096));
    expect(dead[0]!.reason).toBe(`line is ${longBytes} bytes, over the ${MiB}-byte limit (max_line_bytes): the first 4 KiB are kept here`);
    // The line is never held: what the connection keeps is at most max_line_bytes (plus one read);
    // the rest of the growth is 64 KiB reads (and the sender's writes) not yet collected, ~30 MiB
    // here whatever the line's length. Holding the line would take its 50 MB (47.7 MiB).
    const rssGrowth = peakRss - base.rss;
    const bufferGrowth = peakBuffers - base.arrayBuffers;
    console.log(`${kind} 50 MB line: peak RSS growth ${(rssGrowth / MiB).toFixed(1)} MiB, peak Buffer memory growth ${(bufferGrowth / MiB).toFixed(1)} MiB`);
    const bound = 2 * MiB + 40 * MiB; // 2 × max_line_bytes + the GC's slack
    expect(bufferGrowth).toBeLessThan(bound);
    expect(rssGrowth).toBeLessThan(bound);
    c.destroy();
  }, 90_000);
});
