// `config check`: every problem of a config and what it points to, at once; exit 0 or 78.
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import { runAgentCommand, writeConfig } from '../helpers/agent-process.js';
import { tempDir } from '../helpers/tmp.js';

let hub: HubEmulator | undefined;
let busy: Server | undefined;
afterEach(async () => {
  await hub?.close();
  busy?.close();
});

it('reports the token, state dir, listen addresses and input paths, every problem at once', async () => {
  hub = await createHubEmulator();
  const dir = tempDir();
  mkdirSync(path.join(dir, 'in'));
  writeFileSync(path.join(dir, 'in', 'a.jsonl'), '');
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, await hub.mintToken({ permissions: ['Internal Hub Write'] }), { mode: 0o600 });
  const good = writeConfig(path.join(dir, 'good.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ name: 'a', type: 'file', path: path.join(dir, 'in', '*.jsonl'), format: 'jsonl' }],
    hub: { token_file: tokenFile },
  });
  const ok = await runAgentCommand(['config', 'check', '--config', good]);
  expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  expect(ok.stdout).toContain('ok       token');
  expect(ok.stdout).toContain('warning  token lacks Internal Hub Create');
  expect(ok.stdout).toContain('ready to run');
  expect(ok.stdout).toContain(`state_dir ${path.join(dir, 'state')} does not exist yet; run creates it`);
  expect(existsSync(path.join(dir, 'state')), 'config check created state_dir').toBe(false);

  busy = createServer();
  await new Promise<void>((resolve) => busy!.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  const expired = await hub.mintToken({ permissions: ['Internal Hub Write'], expiresAt: new Date(Date.now() - 1000) });
  writeFileSync(tokenFile, expired);
  const bad = writeConfig(path.join(dir, 'bad.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [{ name: 'b', type: 'file', path: path.join(dir, 'nowhere', '*.jsonl'), format: 'jsonl' }],
    hub: { token_file: tokenFile },
    extra: { http: { listen: `127.0.0.1:${port}` } },
  });
  const out = await runAgentCommand(['config', 'check', '--config', bad]);
  expect(out.code).toBe(78);
  expect(out.stdout).toContain('PROBLEM  token');
  expect(out.stdout).toContain('expired');
  expect(out.stdout).toContain(`PROBLEM  http.listen tcp 127.0.0.1:${port}: already in use`);
  expect(out.stdout).toContain(`folder ${path.join(dir, 'nowhere')} does not exist`);
  expect(out.stdout).toContain('3 problems');
  expect(out.stdout + out.stderr).not.toContain(expired);
});

it('checks every socket source as run would: a UDP port taken, a unix path that is a regular file', async () => {
  hub = await createHubEmulator();
  const dir = tempDir();
  const taken: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
  const udpPort = taken.address().port;
  const notASocket = path.join(dir, 'plain-file');
  writeFileSync(notASocket, 'x');
  const config = writeConfig(path.join(dir, 'sockets.yaml'), {
    hubUrl: hub.url,
    stateDir: path.join(dir, 'state'),
    sources: [
      { name: 'u', type: 'udp', listen: `127.0.0.1:${udpPort}`, format: 'jsonl' },
      { name: 'x', type: 'unix', path: notASocket, format: 'jsonl' },
      { name: 'y', type: 'unix', path: path.join(dir, 'missing-dir', 'agent.sock'), format: 'jsonl' },
    ],
  });
  try {
    const out = await runAgentCommand(['config', 'check', '--config', config], { SENSEYE_TOKEN: hub.token });
    expect(out.code, out.stdout).toBe(78);
    expect(out.stdout).toContain(`PROBLEM  sources[0].listen udp 127.0.0.1:${udpPort}: already in use`);
    expect(out.stdout).toContain(`PROBLEM  sources[1] (x): ${notASocket} exists and is not a socket`);
    expect(out.stdout).toContain(`PROBLEM  sources[2] (y): folder ${path.join(dir, 'missing-dir')} does not exist`);
    expect(out.stdout).not.toContain('ready to run');
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
  } finally {
    taken.close();
  }
});

