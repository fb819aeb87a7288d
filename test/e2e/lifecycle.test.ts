// The daemon's lifecycle as an operator drives it: SIGTERM mid-delivery, a second signal,
// SIGHUP config reload, health and metrics of the running process.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { parse as parseYaml, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { spawnAgent, writeConfig } from '../helpers/agent-process.js';
import { jsonlReadings, key, receivedKeys, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { stopAfterEachTest } from '../helpers/e2e-hooks.js';

let hub: HubEmulator | undefined;
const running = stopAfterEachTest(
  () => hub,
  () => (hub = undefined),
);

async function setup(extra: Record<string, unknown> = {}, readings = 20_000) {
  hub = await createHubEmulator({ latencyMs: 5 });
  const dir = tempDir();
  const input = path.join(dir, 'in.jsonl');
  const all = jsonlReadings(0, readings);
  writeFileSync(input, toJsonl(all));
  const config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ name: 'in', type: 'file', path: input, format: 'jsonl' }],
    hub: { batch: { max_points: 200, max_wait: '20ms' }, concurrency: 2 },
    extra,
  });
  return { dir, config, all };
}

describe('lifecycle', () => {
  it('SIGTERM mid-delivery: exits 0, loses nothing, leaves a clean database; the rest goes next start', async () => {
    const { dir, config, all } = await setup();
    const first = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub!.token });
    running.push(first);
    await waitFor(() => hub!.store.dataPoints.length > 1000, 'delivery under way');
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(hub!.store.dataPoints.length).toBeLessThan(all.length);
    const db = new Database(path.join(dir, 'state', 'outbox.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare("SELECT value FROM state WHERE key = 'clean_shutdown'").pluck().get()).toBe('true');
    db.close();
    const second = spawnAgent(['run', '--config', config, '--exit-when-idle'], { SENSEYE_TOKEN: hub!.token });
    running.push(second);
    expect((await second.exited).code).toBe(0);
    expect(new Set(receivedKeys(hub!))).toEqual(new Set(all.map(key)));
    expect(hub!.store.counters.overwrites).toBe(0);
  });

  it('a second signal stops at once; the next start finds a consistent outbox', async () => {
    const { config, all } = await setup({}, 20_000);
    hub!.faults.add({ endpoint: 'graphql', delayMs: 3000, times: Number.POSITIVE_INFINITY });
    const agent = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub!.token });
    running.push(agent);
    await waitFor(() => agent.logs().some((l) => l.event === 'agent_started'), 'start');
    // The precondition is asserted: a request the hub holds for 3 s is on the wire.
    await waitFor(() => hub!.store.requests.some((r) => r.path === '/v1/graphql'), 'a slow request in flight', { timeoutMs: 10_000 });
    agent.child.kill('SIGTERM');
    await waitFor(() => agent.logs().some((l) => l.event === 'agent_stopping'), 'the graceful stop to begin');
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    // At once: the ordered stop, which would have waited for the held request, never finished.
    expect(agent.logs().some((l) => l.event === 'agent_stopped')).toBe(false);
    expect(agent.logs().some((l) => l.event === 'signal' && String(l.msg).includes('again'))).toBe(true);
    hub!.faults.clear();
    const next = spawnAgent(['run', '--config', config, '--exit-when-idle'], { SENSEYE_TOKEN: hub!.token });
    running.push(next);
    expect((await next.exited).code, next.stderr()).toBe(0);
    expect(new Set(receivedKeys(hub!))).toEqual(new Set(all.map(key)));
  });

  it('SIGHUP applies log.level and hub.max_rate at once and names what needs a restart', async () => {
    const { config } = await setup({}, 10);
    const agent = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub!.token });
    running.push(agent);
    await waitFor(() => hub!.store.dataPoints.length >= 10, 'delivery');
    const doc = parseYaml(readFileSync(config, 'utf8')) as Record<string, any>;
    doc.log = { level: 'debug' };
    doc.hub.max_rate = 500;
    doc.hub.concurrency = 3;
    writeFileSync(config, stringify(doc));
    agent.child.kill('SIGHUP');
    const line = await waitFor(() => agent.logs().find((l) => l.event === 'config_reloaded'), 'the reload');
    expect(line.applied).toEqual(['log.level info → debug', 'hub.max_rate unlimited → 500']);
    expect(line.needs_restart).toEqual(['hub.concurrency']);
    writeFileSync(config, 'hub: [broken');
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.logs().find((l) => l.event === 'config_reload_failed'), 'the refusal');
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('serves /healthz, /readyz (503 with the reason while paused) and /metrics', async () => {
    const { config } = await setup({ http: { listen: '127.0.0.1:0' } }, 50);
    const expired = await hub!.mintToken({ permissions: ['Internal Hub Write', 'Internal Hub Create'], expiresAt: new Date(Date.now() - 1000) });
    const agent = spawnAgent(['run', '--config', config, '--log-level', 'debug'], { SENSEYE_TOKEN: expired });
    running.push(agent);
    const listening = await waitFor(() => agent.logs().find((l) => typeof l.url === 'string' && String(l.url).startsWith('http://127.0.0.1:')), 'the health endpoint');
    const base = String(listening.url).replace(/\/$/, '');
    expect((await request(`${base}/healthz`)).statusCode).toBe(200);
    await waitFor(async () => (await request(`${base}/readyz`)).statusCode === 503, 'not ready while paused');
    const ready = await request(`${base}/readyz`);
    expect(JSON.stringify(await ready.body.json())).toContain('expired');
    // Collection goes on while delivery is paused: the metrics show the readings coming in.
    const metrics = await waitFor(async () => {
      const text = await (await request(`${base}/metrics`)).body.text();
      return /senseye_agent_readings_received_total\{source="in"\} 50\b/.test(text) ? text : undefined;
    }, 'the received counter');
    expect(metrics).toContain('senseye_agent_token_expiry_timestamp_seconds');
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});
