/**
 * hub.tls end to end: `senseye-agent emulator --tls-cert --tls-key --tls-client-ca` as a child
 * process (HTTPS on 127.0.0.1, client certificates required), and the real agent process against
 * it. Without hub.tls the agent logs a TLS reason and keeps every reading; with ca_file only, the
 * hub refuses the handshake and the reason points at cert_file; with the CA and the client
 * certificate every reading arrives. An unreadable ca_file stops the start (exit 78) naming it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Agent as UndiciAgent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { readHubTls } from '../../src/net/tls.js';
import { ROOT, runAgentCommand, spawnAgent, writeConfig, type AgentProcess } from '../helpers/agent-process.js';
import { jsonlReadings, toJsonl } from '../helpers/readings.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', 'tls', name);
const running: AgentProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
});

async function startEmulator(): Promise<{ url: string; token: string }> {
  const p = spawnAgent(['emulator', '--tls-cert', fixture('server.crt'), '--tls-key', fixture('server.key'), '--tls-client-ca', fixture('ca.crt')]);
  running.push(p);
  const lines = createInterface({ input: p.child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    void p.exited.then(({ code }) => reject(new Error(`emulator exited ${code}: ${p.stderr()}`)));
  });
  lines.close();
  return JSON.parse(first) as { url: string; token: string };
}

async function stop(p: AgentProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const { code } = await p.exited;
  expect(code, p.stderr()).toBe(0);
}

const lastRetry = (p: AgentProcess) => p.logs().filter((l) => l.event === 'hub_retry').at(-1)?.reason as string | undefined;

describe('hub.tls (agent and emulator processes)', () => {
  it('fails with a TLS reason and keeps every reading, then delivers once the CA and client certificate are set', async () => {
    const hub = await startEmulator();
    expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dir = tempDir();
    writeFileSync(path.join(dir, 'press.jsonl'), toJsonl(jsonlReadings(0, 40)));
    const configWith = (tls: Record<string, string> | undefined) =>
      writeConfig(path.join(dir, 'agent.yaml'), {
        hubUrl: hub.url,
        stateDir: path.join(dir, 'state'),
        sources: [{ name: 'press', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' }],
        hub: tls === undefined ? {} : { tls },
      });
    const env = { SENSEYE_TOKEN: hub.token };
    const status = async () => JSON.parse((await runAgentCommand(['status', '--config', path.join(dir, 'agent.yaml'), '--json'])).stdout) as { counts: Record<string, number> };

    // 1. No hub.tls: the hub's certificate is not trusted.
    const untrusted = spawnAgent(['run', '--config', configWith(undefined)], env);
    running.push(untrusted);
    const reason = await waitFor(() => lastRetry(untrusted), 'a failed delivery round');
    // The emulator given a client CA sends it along in its chain (Node does), hence this code.
    expect(reason).toBe("TLS: self-signed certificate in certificate chain [SELF_SIGNED_CERT_IN_CHAIN] (set hub.tls.ca_file to the hub's CA)");
    await stop(untrusted);
    expect((await status()).counts).toMatchObject({ appended: 40, delivered: 0, depth: 40 });

    // 2. The CA, but no client certificate: the hub refuses the connection.
    const noCert = spawnAgent(['run', '--config', configWith({ ca_file: fixture('ca.crt') })], env);
    running.push(noCert);
    expect(await waitFor(() => lastRetry(noCert), 'a failed delivery round')).toContain('set hub.tls.cert_file and hub.tls.key_file');
    await stop(noCert);
    expect((await status()).counts).toMatchObject({ delivered: 0, depth: 40 });

    // 3. CA and client certificate: everything arrives, once.
    const config = configWith({ ca_file: fixture('ca.crt'), cert_file: fixture('client.crt'), key_file: fixture('client.key') });
    const done = await runAgentCommand(['run', '--config', config, '--exit-when-idle'], env);
    expect(done.code, done.stderr).toBe(0);
    expect((await status()).counts).toMatchObject({ appended: 40, delivered: 40, depth: 0 });
    const dispatcher = new UndiciAgent({ connect: readHubTls({ ca_file: fixture('ca.crt'), cert_file: fixture('client.crt'), key_file: fixture('client.key') })! });
    try {
      const res = await request(`${hub.url}/_emulator/snapshot`, { dispatcher });
      const snapshot = (await res.body.json()) as { dataPoints: unknown[] };
      expect(snapshot.dataPoints).toHaveLength(40);
    } finally {
      await dispatcher.close();
    }
  });

  it('an unreadable hub.tls.ca_file stops the start with exit 78, naming the setting and the file', async () => {
    const dir = tempDir();
    const missing = path.join(dir, 'hub-ca.pem');
    const config = writeConfig(path.join(dir, 'agent.yaml'), {
      hubUrl: 'https://127.0.0.1:1',
      stateDir: path.join(dir, 'state'),
      sources: [{ name: 'press', type: 'file', path: path.join(dir, '*.jsonl'), format: 'jsonl' }],
      hub: { tls: { ca_file: missing } },
    });
    const r = await runAgentCommand(['run', '--config', config], { SENSEYE_TOKEN: 'v4.local.opaque-test-token' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`hub.tls.ca_file: cannot read the CA certificate ${missing} (ENOENT)`);
  });
});
