import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { reportToken } from '../../src/auth/capabilities.js';
import { readClaims } from '../../src/auth/claims.js';
import { MachineTokenProvider } from '../../src/auth/machine-token-provider.js';
import { MachineToken } from '../../src/auth/token.js';
import { createLogger } from '../../src/observability/logger.js';
import { findToken } from '../../src/auth/token-sources.js';
import { createHubEmulator } from '../../src/emulator/index.js';
import { tempDir } from '../helpers/tmp.js';

const silent = pino({ level: 'silent' });

function publicToken(claims: object): string {
  return `v4.public.${Buffer.concat([Buffer.from(JSON.stringify(claims)), Buffer.alloc(64)]).toString('base64url')}`;
}

describe('token sources', () => {
  it('takes hub.token_file, then SENSEYE_TOKEN, then $CREDENTIALS_DIRECTORY, then the container secret', () => {
    const dir = tempDir();
    const file = path.join(dir, 'token');
    writeFileSync(file, '  v4.public.fromfile  \n', { mode: 0o600 });
    const creds = tempDir();
    writeFileSync(path.join(creds, 'senseye-token'), 'v4.public.fromcredential\n');
    const secret = path.join(tempDir(), 'senseye-token');
    writeFileSync(secret, 'v4.public.fromsecret');
    const env = { SENSEYE_TOKEN: 'v4.public.fromenv', CREDENTIALS_DIRECTORY: creds };
    expect(findToken({ tokenFile: file, env, dockerSecretPath: secret })).toMatchObject({ text: 'v4.public.fromfile', origin: file });
    expect(findToken({ env, dockerSecretPath: secret })).toMatchObject({ text: 'v4.public.fromenv', origin: 'SENSEYE_TOKEN' });
    expect(findToken({ env: { CREDENTIALS_DIRECTORY: creds }, dockerSecretPath: secret })).toMatchObject({ text: 'v4.public.fromcredential' });
    expect(findToken({ env: {}, dockerSecretPath: secret })).toMatchObject({ text: 'v4.public.fromsecret', origin: secret });
    expect(() => findToken({ env: {}, dockerSecretPath: path.join(dir, 'none') })).toThrow(/no machine token found/);
  });

  it('an explicit token_file that is missing or empty is an error naming it', () => {
    const dir = tempDir();
    expect(() => findToken({ tokenFile: path.join(dir, 'absent'), env: { SENSEYE_TOKEN: 'x' } })).toThrow(/absent cannot be read \(ENOENT\)/);
    writeFileSync(path.join(dir, 'empty'), '\n');
    expect(() => findToken({ tokenFile: path.join(dir, 'empty'), env: {} })).toThrow(/is empty/);
  });

  it('flags a token file other users may read', () => {
    const file = path.join(tempDir(), 'token');
    writeFileSync(file, 'v4.public.x');
    chmodSync(file, 0o644);
    expect(findToken({ tokenFile: file, env: {} }).looseMode).toBe('mode 0644');
    chmodSync(file, 0o600);
    expect(findToken({ tokenFile: file, env: {} }).looseMode).toBeUndefined();
  });
});

describe('token kinds', () => {
  it('reads v4.public claims without a key; v4.local is opaque; other PASETO versions and garbage are refused', () => {
    const claims = readClaims(publicToken({ permissions: ['internal_hub_write'], exp: '2030-01-01T00:00:00Z' }));
    expect(claims).toMatchObject({ kind: 'v4.public', permissions: ['internal_hub_write'] });
    expect(claims.expiresAt?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(readClaims('v4.local.abcdef')).toMatchObject({ kind: 'v4.local', permissions: null });
    expect(() => readClaims('v2.public.abc')).toThrow(/Senseye machine tokens are PASETO v4/);
    expect(() => readClaims('v3.local.abc')).toThrow(/PASETO v4/);
    expect(() => readClaims('hello')).toThrow(/expected it to start with "v4.public." or "v4.local."/);
    expect(() => readClaims(publicToken({ exp: 'tomorrow' }))).toThrow(/exp/);
  });

  it('permissions compare case- and separator-insensitively', () => {
    const t = new MachineToken(publicToken({ permissions: ['INTERNAL-HUB-WRITE', 'internal_hub_create'] }), 'test');
    expect(t.canWrite()).toBe(true);
    expect(t.canCreate()).toBe(true);
    expect(new MachineToken('v4.local.x', 't').canWrite()).toBeNull();
  });

  it('never shows the secret when logged or printed', () => {
    const secret = publicToken({ permissions: [] });
    const t = new MachineToken(secret, 'test');
    const lines: string[] = [];
    createLogger({ destination: { write: (l: string) => void lines.push(l) } }).info({ t, nested: { token: secret }, authorization: `Bearer ${secret}` }, 'x');
    expect(lines.join('')).not.toContain(secret);
    expect(JSON.stringify(t)).not.toContain(secret);
    expect(String(t)).not.toContain(secret);
    expect(t.bearer()).toBe(`Bearer ${secret}`);
  });

  it('a JWT is refused as a machine token, with a hint', async () => {
    const file = path.join(tempDir(), 'token');
    writeFileSync(file, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig');
    await expect(MachineTokenProvider.create({ tokenFile: file, env: {}, logger: silent })).rejects.toThrow(/is a JWT \(a user token\).*hub\.auth\.type: user/);
  });

  it('verifies the signature when hub.token_public_key is set', async () => {
    const hub = await createHubEmulator();
    const other = await createHubEmulator();
    try {
      const file = path.join(tempDir(), 'token');
      writeFileSync(file, hub.token);
      const ok = await MachineTokenProvider.create({ tokenFile: file, env: {}, publicKey: hub.publicKeyPaserk, logger: silent });
      expect(ok.current().claims.kind).toBe('v4.public');
      await expect(MachineTokenProvider.create({ tokenFile: file, env: {}, publicKey: other.publicKeyPaserk, logger: silent })).rejects.toThrow(
        /does not verify with hub.token_public_key/,
      );
      // An expired token with a good signature loads (delivery pauses instead).
      writeFileSync(file, await hub.mintToken({ permissions: ['Internal Hub Write'], expiresAt: new Date(Date.now() - 60_000) }));
      const expired = await MachineTokenProvider.create({ tokenFile: file, env: {}, publicKey: hub.publicKeyPaserk, logger: silent });
      expect(expired.current().isExpired()).toBe(true);
    } finally {
      await hub.close();
      await other.close();
    }
  });

  it('reports capabilities and expiry', () => {
    const now = Date.UTC(2026, 10, 27);
    const soon = new MachineToken(publicToken({ permissions: ['Internal Hub Write'], exp: new Date(now + 3 * 86_400_000).toISOString() }), 't');
    expect(reportToken(soon, now)).toMatchObject({ canStoreData: true, canCreateSensors: false, expired: false, timeLeftMs: 3 * 86_400_000 });
    expect(reportToken(soon, now + 4 * 86_400_000)).toMatchObject({ canStoreData: false, expired: true });
  });
});
