// `config check`: every problem of a config and what it points to, at once; exit 0 or 78.
import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
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
  expect(out.stdout).toContain(`PROBLEM  http.listen 127.0.0.1:${port}: already in use`);
  expect(out.stdout).toContain(`folder ${path.join(dir, 'nowhere')} does not exist`);
  expect(out.stdout).toContain('3 problems');
  expect(out.stdout + out.stderr).not.toContain(expired);
});
