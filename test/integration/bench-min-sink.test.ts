/**
 * bench/lib/min-sink.js, the sink both sides of benchmark 10 (Fluent Bit vs the agent) send to:
 * its answers to the agent's sensor creation and data mutation are what the agent's answer rules
 * call success (so the agent deletes what it sent, as with the real hub), and it counts each
 * reading once by its sequence number: Fluent Bit's `seq`, the agent's timestamp minus the base.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, expect, it } from 'vitest';
import { classifyAnswer } from '../../src/hub/answer-rules.js';
import { encodeMutation } from '../../src/hub/encode.js';
import { ROOT } from '../helpers/agent-process.js';

const BASE = Date.UTC(2026, 10, 27, 10);
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function post(url: string, body: string | Buffer) {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

it('answers the agent with success, takes json_lines, and counts every reading once', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'lib', 'min-sink.js'), '4', String(BASE)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const { url } = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve))) as { url: string };

  const created = await post(`${url}/v1/hub/sensors`, JSON.stringify({ name: 'press-01', mappingId: 'press-01' }));
  expect(classifyAnswer(created, { endpoint: 'sensors', path: '/v1/hub/sensors' })).toMatchObject({ kind: 'ok', status: 201 });

  const points = [0, 1, 1].map((i) => `{"measureName":"pres","timestamp":"${new Date(BASE + i).toISOString()}","floatValue":1.5}`);
  const stored = await post(`${url}/v1/graphql`, encodeMutation({ sensorId: 'sink-press-01' }, 'sa-batch-1', points));
  expect(classifyAnswer(stored, { endpoint: 'graphql', path: '/v1/graphql', batchId: 'sa-batch-1' })).toMatchObject({ kind: 'ok' });

  const lines = await post(`${url}/ingest`, '{"date":1.0,"seq":2,"sensor":"a.b","value":1}\n{"date":1.0,"seq":3,"sensor":"a.b","value":2}\n');
  expect(lines.status).toBe(200);
  const state = (await (await fetch(`${url}/_sink`)).json()) as { distinct: number; points: number; doneAt: number | null };
  expect(state).toMatchObject({ distinct: 4, points: 5 });
  expect(state.doneAt).not.toBeNull();
});
