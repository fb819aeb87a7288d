import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PERMISSION } from '../../src/auth/permissions.js';
import { importPublicKey, TokenAuthority, tokenFingerprint, verifyV4Public } from '../../src/emulator/tokens.js';

interface Vector {
  name: string;
  'expect-fail': boolean;
  'public-key'?: string;
  token: string;
  payload: string | null;
  footer: string;
  'implicit-assertion': string;
}

const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/paseto/v4-public-vectors.json', import.meta.url), 'utf8'),
) as { tests: Vector[] };

/** The public key of the 4-S vectors; used for expect-fail vectors that carry none. */
const VECTOR_PUBLIC_KEY = vectors.tests.find((t) => t['public-key'])?.['public-key'] as string;
/** The vectors expire 2022-01-01; verify them at a time they were valid. */
const VECTOR_NOW = new Date('2021-06-01T00:00:00Z');

/** Splits a v4.public token into its claims (unverified) and signature, as the agent would. */
function decodePayload(token: string): { claims: Record<string, unknown>; signature: Buffer } {
  const body = Buffer.from(token.split('.')[2] as string, 'base64url');
  return {
    claims: JSON.parse(body.subarray(0, body.length - 64).toString('utf8')) as Record<string, unknown>,
    signature: body.subarray(body.length - 64),
  };
}

function encodeToken(claims: Record<string, unknown>, signature: Buffer): string {
  return `v4.public.${Buffer.concat([Buffer.from(JSON.stringify(claims)), signature]).toString('base64url')}`;
}

describe('official PASETO v4 test vectors (paseto-standard/test-vectors)', () => {
  it('has both valid and expect-fail vectors', () => {
    expect(vectors.tests.filter((t) => !t['expect-fail']).length).toBeGreaterThanOrEqual(3);
    expect(vectors.tests.filter((t) => t['expect-fail']).length).toBeGreaterThanOrEqual(1);
  });

  for (const v of vectors.tests.filter((t) => !t['expect-fail'])) {
    it(`${v.name}: verifies and yields the expected payload and footer`, async () => {
      const key = await importPublicKey(v['public-key'] as string);
      const r = await verifyV4Public(key, v.token, { now: VECTOR_NOW, implicitAssertion: v['implicit-assertion'], footer: v.footer });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.claims).toEqual(JSON.parse(v.payload as string));
      expect(Buffer.from(r.footer).toString('utf8')).toBe(v.footer);
    });

    it(`${v.name}: is rejected with a wrong implicit assertion, or once expired`, async () => {
      const key = await importPublicKey(v['public-key'] as string);
      const wrongAssertion = await verifyV4Public(key, v.token, { now: VECTOR_NOW, implicitAssertion: `${v['implicit-assertion']}x` });
      expect(wrongAssertion).toMatchObject({ ok: false, reason: 'invalid' });
      const expired = await verifyV4Public(key, v.token, { implicitAssertion: v['implicit-assertion'] });
      expect(expired).toMatchObject({ ok: false, reason: 'expired' });
    });
  }

  for (const v of vectors.tests.filter((t) => t['expect-fail'])) {
    it(`${v.name}: is rejected (expect-fail)`, async () => {
      const key = await importPublicKey(v['public-key'] ?? VECTOR_PUBLIC_KEY);
      const r = await verifyV4Public(key, v.token, { now: VECTOR_NOW, implicitAssertion: v['implicit-assertion'] });
      expect(r.ok).toBe(false);
    });
  }
});

describe('TokenAuthority', () => {
  it('mints v4.public tokens whose claims carry permissions, iat and sub, and verifies them', async () => {
    const authority = await TokenAuthority.create();
    expect(authority.publicKeyPaserk).toMatch(/^k4\.public\.[A-Za-z0-9_-]{43}$/);
    const token = await authority.mint({ permissions: [PERMISSION.hubWrite] });
    expect(token).toMatch(/^v4\.public\./);
    const { claims } = decodePayload(token);
    expect(claims).toMatchObject({ permissions: ['Internal Hub Write'], sub: 'emulator-machine-1' });
    expect(claims.exp).toBeUndefined();
    expect(Date.parse(claims.iat as string)).toBeGreaterThan(Date.now() - 60_000);

    const auth = await authority.authenticate(token);
    expect(auth).toEqual({ ok: true, permissions: ['Internal Hub Write'], subject: 'emulator-machine-1', fingerprint: tokenFingerprint(token) });
    expect((await authority.mint({ permissions: [] })) !== token).toBe(true);
  });

  it('verifies with the exported PASERK public key, as the agent would', async () => {
    const authority = await TokenAuthority.create();
    const token = await authority.mint({ permissions: ['x'], expiresIn: 60_000 });
    const key = await importPublicKey(authority.publicKeyPaserk);
    expect(await verifyV4Public(key, token)).toMatchObject({ ok: true, claims: { permissions: ['x'] } });
    const other = await TokenAuthority.create();
    expect(await other.authenticate(token)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('sets exp from expiresIn / expiresAt and rejects expired tokens', async () => {
    const authority = await TokenAuthority.create();
    const before = Date.now();
    const t1 = await authority.mint({ permissions: [], expiresIn: 3_600_000 });
    const exp = Date.parse(decodePayload(t1).claims.exp as string);
    expect(exp).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(exp).toBeLessThan(Date.now() + 3_600_000 + 1);
    expect((await authority.authenticate(t1)).ok).toBe(true);
    expect(await authority.authenticate(t1, new Date(exp + 1))).toMatchObject({ ok: false, reason: 'expired' });

    const t2 = await authority.mint({ permissions: [], expiresAt: new Date(Date.now() - 1000) });
    expect(await authority.authenticate(t2)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('remembers a verified token only until its exp, and never a tampered one', async () => {
    const authority = await TokenAuthority.create();
    const token = await authority.mint({ permissions: [PERMISSION.hubWrite], expiresIn: 150 });
    expect((await authority.authenticate(token)).ok).toBe(true);
    expect((await authority.authenticate(token)).ok).toBe(true); // from the cache
    const { claims, signature } = decodePayload(token);
    const forged = encodeToken({ ...claims, permissions: [PERMISSION.hubWrite, PERMISSION.hubCreate] }, signature);
    expect(await authority.authenticate(forged)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await authority.authenticate(token, new Date(Date.now() + 200))).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('rejects revoked tokens, only those', async () => {
    const authority = await TokenAuthority.create();
    const a = await authority.mint({ permissions: [] });
    const b = await authority.mint({ permissions: [] });
    authority.revoke(a);
    expect(authority.isRevoked(a)).toBe(true);
    expect(await authority.authenticate(a)).toMatchObject({ ok: false, reason: 'revoked' });
    expect((await authority.authenticate(b)).ok).toBe(true);
  });

  it('rejects a tampered payload, a tampered signature, and malformed tokens', async () => {
    const authority = await TokenAuthority.create();
    const token = await authority.mint({ permissions: [PERMISSION.hubWrite] });
    const { claims, signature } = decodePayload(token);
    const escalated = encodeToken({ ...claims, permissions: [PERMISSION.hubWrite, PERMISSION.hubCreate] }, signature);
    expect(await authority.authenticate(escalated)).toMatchObject({ ok: false, reason: 'invalid' });

    const flipped = Buffer.from(signature);
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(await authority.authenticate(encodeToken(claims, flipped))).toMatchObject({ ok: false, reason: 'invalid' });

    for (const bad of ['', 'garbage', 'v4.public.', 'v4.local.AAAA', token.replace('v4.public.', 'v2.public.')]) {
      expect((await authority.authenticate(bad)).ok).toBe(false);
    }
  });

  it('fingerprints are stable and do not contain the token', () => {
    const fp = tokenFingerprint('v4.public.abc');
    expect(fp).toBe(tokenFingerprint('v4.public.abc'));
    expect(fp).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(fp).not.toContain('abc');
  });
});
