// UDP losses are counted, never silent (issue #14, item 4), with a real `udp` source on
// 127.0.0.1 through the real pipeline into a real outbox (pipeline-rig.ts): the receive buffer
// asked for is applied and read back (the kernel caps it at net.core.rmem_max, and the agent
// says so), and datagrams the kernel drops because the socket's buffer is full are counted by
// the agent exactly as /proc/net/udp counts them, and logged as `udp_drops`.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../src/config/sources-schema.js';
import { UdpSource } from '../../src/sources/socket/udp-source.js';
import { waitFor } from '../helpers/wait.js';
import { PipelineRig } from './pipeline-rig.js';

const rigs: PipelineRig[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const r of rigs.splice(0)) await r.stop();
});

async function startUdp(settings: Record<string, unknown>) {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const config = sourceSchema.parse({ name: 'plc', type: 'udp', listen: '127.0.0.1:0', format: 'jsonl', ...settings });
  if (config.type !== 'udp') throw new Error('not udp');
  const source = new UdpSource(config, { lane: 0, logger, parserOptions: {} });
  const rig = new PipelineRig(source);
  rigs.push(rig);
  await source.whenStarted();
  return { source, rig, logs, port: Number(/:(\d+)$/.exec(source.address!)![1]) };
}

/** The drops column of the socket bound to this local port, read independently of the agent. */
function procDrops(port: number): number | null {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'latin1').split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 13 && cols[1]!.endsWith(hex)) return Number(cols[12]);
  }
  return null;
}

const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));

function reading(i: number): Buffer {
  return Buffer.from(JSON.stringify({ sensor: 'u', measure: 'm', ts: new Date(Date.UTC(2026, 0, 7) + i).toISOString(), value: i }));
}

describe('udp source: receive buffer and drops', () => {
  it('applies receive_buffer and reads back what the kernel granted (Linux: twice the size asked for)', async () => {
    const asked = Math.min(1024 * 1024, rmemMax);
    const { source, logs } = await startUdp({ receive_buffer: asked });
    expect(source.receiveBufferBytes).toBe(2 * asked);
    expect(logs.find((l) => l.event === 'udp_receive_buffer')).toMatchObject({ level: 30, requested_bytes: asked, granted_bytes: 2 * asked });
  });

  it('says when net.core.rmem_max caps the receive buffer, with the sysctl to raise it', async () => {
    const { source, logs } = await startUdp({ receive_buffer: 2 * rmemMax });
    expect(source.receiveBufferBytes).toBe(2 * rmemMax);
    const warning = logs.find((l) => l.event === 'udp_receive_buffer');
    expect(warning).toMatchObject({ level: 40, requested_bytes: 2 * rmemMax, granted_bytes: 2 * rmemMax });
    expect(String(warning!.hint)).toContain(`sysctl -w net.core.rmem_max=${2 * rmemMax}`);
  });

  it('counts the datagrams the kernel drops exactly as /proc/net/udp does, logs udp_drops, and delivers all the others', async () => {
    // The smallest buffer the kernel allows (a few datagrams): bursts overflow it for real.
    const { source, rig, logs, port } = await startUdp({ receive_buffer: 1 });
    const client = dgram.createSocket('udp4');
    sockets.push(client);
    await new Promise<void>((r) => client.connect(port, '127.0.0.1', () => r()));
    let sent = 0;
    for (let burst = 0; burst < 20 && (procDrops(port) ?? 0) === 0; burst++) {
      await new Promise<void>((resolve) => {
        for (let k = 0; k < 2000; k++) client.send(reading(sent++), k === 1999 ? () => resolve() : undefined);
      });
    }
    const kernel = procDrops(port)!;
    expect(kernel).toBeGreaterThan(0);
    // Every datagram sent was either dropped by the kernel or reaches the outbox.
    await waitFor(() => rig.readings().length + (procDrops(port) ?? 0) === sent, 'every datagram delivered or counted as dropped');
    expect(source.drops()).toEqual({ kernel: procDrops(port), backlog: 0 });
    const values = new Set(rig.readings().map((r) => r.value));
    expect(values.size).toBe(sent - procDrops(port)!);
    const warning = logs.find((l) => l.event === 'udp_drops');
    expect(warning).toMatchObject({ level: 40 });
    expect(Number(warning!.total)).toBeGreaterThan(0);
    expect(Number(warning!.total)).toBeLessThanOrEqual(procDrops(port)!);
  });

  it('reports a port in use by source name (the receiving thread cannot bind), and completes', async () => {
    const blocker = dgram.createSocket('udp4');
    sockets.push(blocker);
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', () => r()));
    const config = sourceSchema.parse({ name: 'plc', type: 'udp', listen: `127.0.0.1:${blocker.address().port}`, format: 'jsonl' });
    if (config.type !== 'udp') throw new Error('not udp');
    const source = new UdpSource(config, { lane: 0, logger: pino({ level: 'silent' }), parserOptions: {} });
    let completed = false;
    source.chunks$.subscribe({ complete: () => (completed = true) });
    await expect(source.whenStarted()).rejects.toThrow(/source "plc".*cannot listen on udp 127\.0\.0\.1:\d+: EADDRINUSE/s);
    await waitFor(() => completed, 'the source completed');
  });
});
