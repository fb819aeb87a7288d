// End to end, the real agent process against a hub (the emulator's fault modes) that answers
// outside the contract: nothing it did not clearly accept is deleted, nothing is dead-lettered
// for a route or proxy problem, and /readyz, `status` and the metrics say what is going on.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { parsePrometheusText } from '../helpers/metrics-text.js';
import { jsonlReadings, key, receivedKeys, sorted, toJsonl } from '../helpers/readings.js';
import { waitFor } from '../helpers/wait.js';
import { freshHubEachTest } from '../helpers/e2e-hooks.js';

let hub: HubEmulator;
let dir: string;
const running = freshHubEachTest((h, d) => {
  hub = h;
  dir = d;
});

const N = 1000;

function setUp(hubSettings: Record<string, unknown> = {}) {
  const readings = jsonlReadings(0, N);
  writeFileSync(path.join(dir, 'in.jsonl'), toJsonl(readings));
  const config = writeConfig(path.join(dir, 'agent.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ name: 'in', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' }],
    hub: { unready_after: '1s', ...hubSettings },
    extra: { http: { listen: '127.0.0.1:0' } },
  });
  return { config, expected: sorted(readings.map(key)) };
}

function start(config: string, env: NodeJS.ProcessEnv = {}): AgentProcess {
  const p = spawnAgent(['run', '--config', config], { SENSEYE_TOKEN: hub.token, ...env });
  running.push(p);
  return p;
}

async function endpoint(p: AgentProcess): Promise<string> {
  const line = await waitFor(() => p.logs().find((l) => l.event === 'http_listening'), 'the health endpoint');
  return line.url as string;
}

async function readyz(url: string): Promise<{ status: number; body: { ready: boolean; reasons: Array<{ check: string; reason: string }> } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

async function status(config: string): Promise<string> {
  const r = await runAgentCommand(['status', '--config', config]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** A sample's value by family name (without the senseye_agent_ prefix) and labels, or undefined. */
function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const family = parsePrometheusText(text).get(`senseye_agent_${name}`);
  const sample = family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value;
}

async function stop(p: AgentProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const { code } = await p.exited;
  expect(code, p.stderr()).toBe(0);
}

describe('a hub that answers outside the contract', () => {
  it('a 200 {} (then null, then {"data":null}) to every request deletes nothing; the readings are delivered once the real hub answers', async () => {
    const { config, expected } = setUp();
    hub.faults.add({ endpoint: 'sensors', status: 200, body: {}, times: 1 });
    hub.faults.add({ endpoint: 'graphql', status: 200, body: {}, times: 3 });
    hub.faults.add({ endpoint: 'graphql', status: 200, body: null, times: 2 });
    hub.faults.add({ endpoint: 'graphql', status: 200, body: { data: null }, times: 2 });
    const agent = start(config);
    const url = await endpoint(agent);
    await waitFor(() => hub.store.counters.faultsInjected >= 8, 'every fault taken');
    // While the hub answered 200 {}, nothing was taken for delivered.
    const retries = agent.logs().filter((l) => l.event === 'hub_retry' && l.cause === 'unexpected');
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.map((l) => String(l.reason))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/answered 200 at \/v1\/hub\/sensors where the contract says 201 with the sensor's id/),
        expect.stringMatching(/answered a 200 without data.storeSensorMeasureData at \/v1\/graphql/),
      ]),
    );

    await waitFor(() => hub.store.dataPoints.length >= N, 'every reading at the hub');
    await waitFor(async () => (await readyz(url)).status === 200, 'ready again');
    expect(sorted(receivedKeys(hub))).toEqual(expected);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metricValue(metrics, 'hub_unexpected_answers_total', { endpoint: 'sensors', status: '200' }) ?? 0).toBeGreaterThan(0);
    await stop(agent);
    expect(await status(config)).toMatch(/delivered\s+1000 readings/);
    expect(await status(config)).toMatch(/0 refused by the hub/);
  });

  it('a 404 page at the GraphQL path pauses delivery with a reason and backs off: no dead letter, not ready, then it heals', async () => {
    const { config, expected } = setUp({ retry: { initial_delay: '100ms', max_delay: '1s' } });
    hub.faults.add({ endpoint: 'graphql', status: 404, body: '<html><body>Not Found</body></html>', times: Number.POSITIVE_INFINITY });
    const agent = start(config);
    const url = await endpoint(agent);
    const unready = await waitFor(async () => {
      const r = await readyz(url);
      return r.status === 503 && r.body.reasons.find((x) => x.check === 'delivery') ? r : null;
    }, 'not ready on the 404s');
    const reason = unready.body.reasons.find((x) => x.check === 'delivery')!.reason;
    expect(reason).toContain('404 at /v1/graphql');
    expect(reason).toContain('check hub.url and hub.paths');
    expect(reason).toMatch(/retrying since \d{4}-/);
    expect(await status(config)).toMatch(new RegExp(`delivery\\s+retrying since .*404 at /v1/graphql.* \\(pid ${agent.child.pid}, running since `));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metricValue(metrics, 'hub_unexpected_answers_total', { endpoint: 'graphql', status: '404' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'ready', {})).toBe(0);

    // Backoff, not a storm: over ~1.5 s of 404s, a handful of requests (a bisection would send hundreds).
    const before = hub.store.requests.filter((r) => r.path === '/v1/graphql').length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const during = hub.store.requests.filter((r) => r.path === '/v1/graphql').length - before;
    expect(during).toBeLessThan(20);
    expect(agent.logs().filter((l) => l.event === 'batch_refused' || l.event === 'reading_rejected')).toEqual([]);

    hub.faults.clear();
    await waitFor(() => hub.store.dataPoints.length >= N, 'every reading once the route answers');
    await waitFor(async () => (await readyz(url)).status === 200, 'ready again');
    expect(sorted(receivedKeys(hub))).toEqual(expected);
    await stop(agent);
    expect(await status(config)).toMatch(/0 refused by the hub/);
  });

  it('a 50 MB answer is read no further than hub.max_response_bytes, even with a 64 MB heap', async () => {
    const { config, expected } = setUp();
    hub.faults.add({ endpoint: 'graphql', status: 200, bodyBytes: 50 * 1024 * 1024, times: 2 });
    const agent = start(config, { NODE_OPTIONS: '--max-old-space-size=64' });
    await waitFor(() => hub.store.dataPoints.length >= N, 'every reading after the oversized answers', { timeoutMs: 30_000 });
    expect(sorted(receivedKeys(hub))).toEqual(expected);
    const oversized = agent.logs().filter((l) => l.event === 'hub_retry' && String(l.reason).includes('hub.max_response_bytes'));
    expect(oversized.length).toBeGreaterThan(0);
    expect(agent.child.exitCode).toBeNull();
    await stop(agent);
  });

  it('a hub that refuses connections: counted as network, retrying since T in status and /readyz, nothing lost', async () => {
    const closed = await createHubEmulator();
    const url = closed.url;
    await closed.close();
    const readings = jsonlReadings(0, 50);
    writeFileSync(path.join(dir, 'in.jsonl'), toJsonl(readings));
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: url,
      stateDir: path.join(dir, 'state'),
      sources: [{ name: 'in', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' }],
      hub: { unready_after: '500ms' },
      extra: { http: { listen: '127.0.0.1:0' } },
    });
    const agent = start(config);
    const health = await endpoint(agent);
    const r = await waitFor(async () => {
      const x = await readyz(health);
      return x.status === 503 ? x : null;
    }, 'not ready while the hub is unreachable');
    expect(r.body.reasons.find((x) => x.check === 'delivery')?.reason).toMatch(/retrying since .*network error: ECONNREFUSED/);
    const metrics = await (await fetch(`${health}/metrics`)).text();
    expect(metricValue(metrics, 'hub_requests_total', { status: 'network' })).toBeGreaterThan(0);
    await stop(agent);
    // Consistent with the counts: not "idle" beside readings that wait, and not a running state once stopped.
    const text = await status(config);
    expect(text).toMatch(/waiting\s+50 readings/);
    expect(text).toMatch(/delivery\s+not running \(last retrying at [^)]+\); 50 wait for the agent to start/);
  });
});
