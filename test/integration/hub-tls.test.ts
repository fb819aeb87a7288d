/**
 * hub.tls against a real HTTPS hub: the emulator on 127.0.0.1 with a certificate from the test
 * CA in test/fixtures/tls/ (not trusted by Node). Proves that without ca_file nothing is sent and
 * nothing is lost (rows stay in the outbox, the reason says TLS and what to set), that with
 * ca_file readings arrive, that a hub requiring client certificates is reached only with
 * cert_file/key_file, that the user-token endpoint uses the same settings, and that unreadable or
 * half-given settings are reported naming the setting and the file.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { UserTokenProvider } from '../../src/auth/user-token-provider.js';
import { checkConfig } from '../../src/cli/config-check.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { createHubEmulator, type EmulatorTls, type HubEmulator } from '../../src/emulator/index.js';
import { describeNetworkError } from '../../src/net/network-error.js';
import { HubTlsError, readHubTls } from '../../src/net/tls.js';
import { createRig, readings, type Rig } from '../helpers/delivery-rig.js';
import { ROOT } from '../helpers/agent-process.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'tls');
const fixture = (name: string) => path.join(FIXTURES, name);
const SERVER: EmulatorTls = { cert: readFileSync(fixture('server.crt')), key: readFileSync(fixture('server.key')) };
const MUTUAL: EmulatorTls = { ...SERVER, clientCa: readFileSync(fixture('ca.crt')) };

let rig: Rig | undefined;
let hub: HubEmulator | undefined;
afterEach(async () => {
  await rig?.close();
  await hub?.close();
  rig = undefined;
  hub = undefined;
});

const retries = (r: Rig) => r.logs.filter((l) => l.event === 'hub_retry');

describe('hub.tls with an HTTPS hub', () => {
  it('without ca_file sends nothing, keeps every row, and says it is TLS and what to set', async () => {
    rig = await createRig({ emulator: { tls: SERVER } });
    expect(rig.hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    rig.append(readings(30));
    rig.shipper.start();
    await waitFor(() => retries(rig!).length >= 2, 'two failed delivery rounds');
    const reason = String(retries(rig).at(-1)!.reason);
    expect(reason).toMatch(/^TLS: /);
    expect(reason).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(reason).toContain('set hub.tls.ca_file');
    // The handshake failed: no request reached the hub, and the outbox still holds every reading.
    expect(rig.hub.store.requests).toHaveLength(0);
    expect(rig.outbox.counts()).toMatchObject({ depth: 30, delivered: 0 });
  });

  it('with ca_file delivers every reading', async () => {
    rig = await createRig({ emulator: { tls: SERVER }, clientTls: readHubTls({ ca_file: fixture('ca.crt') })! });
    rig.append(readings(30));
    rig.shipper.start();
    await waitFor(() => rig!.hub.store.dataPoints.length >= 30, 'all readings at the hub');
    expect(rig.hub.store.dataPoints).toHaveLength(30);
    await waitFor(() => rig!.outbox.counts().depth === 0, 'an empty outbox');
    expect(retries(rig)).toHaveLength(0);
  });

  it('a hub that requires a client certificate is refused without cert_file/key_file, and reached with them', async () => {
    rig = await createRig({ emulator: { tls: MUTUAL }, clientTls: readHubTls({ ca_file: fixture('ca.crt') })! });
    rig.append(readings(10));
    rig.shipper.start();
    await waitFor(() => retries(rig!).length >= 2, 'two failed delivery rounds');
    expect(String(retries(rig).at(-1)!.reason)).toContain('hub.tls.cert_file');
    expect(rig.hub.store.requests).toHaveLength(0);
    expect(rig.outbox.counts().depth).toBe(10);
    await rig.close();

    rig = await createRig({
      emulator: { tls: MUTUAL },
      clientTls: readHubTls({ ca_file: fixture('ca.crt'), cert_file: fixture('client.crt'), key_file: fixture('client.key') })!,
    });
    rig.append(readings(10));
    rig.shipper.start();
    await waitFor(() => rig!.hub.store.dataPoints.length >= 10, 'all readings at the hub');
    expect(rig.hub.store.dataPoints).toHaveLength(10);
  });

  it('the user-token provider reaches the token endpoint with the same settings', async () => {
    hub = await createHubEmulator({ tls: MUTUAL, users: [{ username: 'ops', password: 's3cret', permissions: ['Internal Hub Write'] }] });
    const stateDir = tempDir();
    const passwordFile = path.join(stateDir, 'password');
    writeFileSync(passwordFile, 's3cret\n', { mode: 0o600 });
    const logs: Array<Record<string, unknown>> = [];
    const make = (tls: ReturnType<typeof readHubTls>) =>
      new UserTokenProvider({
        hubUrl: hub!.url,
        tokenPath: '/oauth/token',
        username: 'ops',
        passwordFile,
        stateDir,
        tls,
        logger: pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
        retry: { initialDelayMs: 20, maxDelayMs: 100 },
      });
    const without = make(readHubTls({ ca_file: fixture('ca.crt') }));
    without.start();
    await waitFor(() => logs.some((l) => l.event === 'user_token_failed'), 'a failed token request');
    without.stop();
    expect(without.current()).toBeNull();
    expect(String(logs.find((l) => l.event === 'user_token_failed')!.reason)).toContain('hub.tls.cert_file');

    const withCert = make(readHubTls({ ca_file: fixture('ca.crt'), cert_file: fixture('client.crt'), key_file: fixture('client.key') }));
    withCert.start();
    await waitFor(() => withCert.current(), 'a user token');
    withCert.stop();
    expect(hub.store.requests.filter((r) => r.path === '/oauth/token' && r.status === 200)).toHaveLength(1);
  });
});

describe('describeNetworkError with real failures', () => {
  it('names a plain-http hub behind an https:// URL as TLS', async () => {
    hub = await createHubEmulator();
    rig = undefined;
    const { request } = await import('undici');
    const err = await request(hub.url.replace('http://', 'https://') + '/v1/graphql', { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    const d = describeNetworkError(err);
    expect(d.label).toBe('tls');
    expect(d.reason).toContain('ERR_SSL_WRONG_VERSION_NUMBER');
    expect(d.reason).toContain('does hub.url say https://');
    // OpenSSL's location tail is left out.
    expect(d.reason).not.toContain('../deps');
  });

  it('labels timeouts and other errors', () => {
    expect(describeNetworkError(Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' })).label).toBe('timeout');
    expect(describeNetworkError(new DOMException('The operation was aborted due to timeout', 'TimeoutError')).label).toBe('timeout');
    const refused = describeNetworkError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }));
    expect(refused).toEqual({ label: 'network', reason: 'network error: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9' });
    // fetch() wraps the TLS error in a TypeError's cause.
    const wrapped = new TypeError('fetch failed', { cause: Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }) });
    expect(describeNetworkError(wrapped)).toMatchObject({ label: 'tls', reason: expect.stringContaining("check this machine's clock") });
  });
});

describe('hub.tls settings', () => {
  const base = (tls: string) => `hub:\n  url: https://127.0.0.1:1\n  tls:\n${tls}\nstate_dir: ./state\nsources:\n  - {name: a, type: file, path: '*.jsonl', format: jsonl}\n`;

  it('resolves paths against the config file and refuses a certificate without its key (and keys it does not know)', () => {
    const config = parseConfigText(base('    ca_file: ca.pem'), '/etc/agent/config.yaml');
    expect(config.hub.tls).toEqual({ ca_file: '/etc/agent/ca.pem', cert_file: undefined, key_file: undefined });
    const error = (() => {
      try {
        parseConfigText(base('    cert_file: client.pem\n    verify: false'), 'c.yaml');
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('hub.tls.key_file: cert_file is set without key_file');
    expect(message).toContain('unknown key "verify"');
  });

  it('readHubTls names the setting and the file, and refuses a key that does not match the certificate', () => {
    const missing = path.join(tempDir(), 'nope.pem');
    expect(() => readHubTls({ ca_file: missing })).toThrow(HubTlsError);
    expect(() => readHubTls({ ca_file: missing })).toThrow(`hub.tls.ca_file: cannot read the CA certificate ${missing} (ENOENT)`);
    expect(() => readHubTls({ cert_file: fixture('client.crt') })).toThrow('a client certificate needs both');
    expect(() => readHubTls({ cert_file: fixture('client.crt'), key_file: fixture('server.key') })).toThrow(/hub\.tls: the files .* are not usable/);
    expect(readHubTls({})).toBeUndefined();
  });

  it('config check reports every unreadable TLS file', async () => {
    const dir = tempDir();
    copyFileSync(fixture('ca.crt'), path.join(dir, 'ca.pem'));
    const text = base('    ca_file: ca.pem\n    cert_file: client.pem\n    key_file: client.key').replace('./state', `${dir}/state`);
    const config = parseConfigText(text, path.join(dir, 'config.yaml'));
    const findings = await checkConfig(config, { SENSEYE_TOKEN: 'v4.public.eyJ9' });
    const problems = findings.filter((f) => f.level === 'problem').map((f) => f.what);
    expect(problems).toContain(`hub.tls.cert_file: cannot read the client certificate ${dir}/client.pem (ENOENT) (the file does not exist: check the path (relative paths are relative to the config file))`);
    expect(problems.some((p) => p.startsWith(`hub.tls.key_file: cannot read the client key ${dir}/client.key (ENOENT)`))).toBe(true);
    expect(problems.some((p) => p.includes('ca_file'))).toBe(false);
  });
});
