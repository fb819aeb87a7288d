/**
 * Machine tokens as the emulator issues and checks them: PASETO v4.public (Ed25519), signed by
 * a key pair generated when the emulator starts, with claims
 * `{ permissions: string[], iat: RFC 3339, sub: "emulator-machine-N", exp?: RFC 3339 }`.
 *
 * Guarantees: a token is accepted only if its signature verifies against the emulator's key,
 * its `exp` (when present) is in the future, and it was not revoked. A token without `exp` is
 * permanent, as Senseye's permanent machine tokens are. Tokens are never stored or logged:
 * revocation and request logs keep a SHA-256 fingerprint only.
 */
import { createHash } from 'node:crypto';
import { PublicProtocol } from 'paseto';
import {
  ExportPublicKeyFactory,
  GenerateKeyPairFactory,
  ImportPublicKeyFactory,
  SignFactory,
  VerifyFactory,
  type PublicKey,
  type SecretKey,
} from 'paseto/v4/public';

const v4 = new PublicProtocol(
  GenerateKeyPairFactory,
  SignFactory,
  VerifyFactory,
  ImportPublicKeyFactory,
  ExportPublicKeyFactory,
);

export type { PublicKey };

export type VerifyFailureReason = 'malformed' | 'invalid' | 'expired' | 'invalid-claims' | 'revoked';

export type VerifyResult =
  | { ok: true; claims: Record<string, unknown>; footer: Uint8Array }
  | { ok: false; reason: VerifyFailureReason; message: string };

export interface VerifyOptions {
  /** Time used for `exp`/`iat`/`nbf` checks; defaults to now. */
  now?: Date;
  /** Footer the token must carry (UTF-8). */
  footer?: string;
  /** Implicit assertion the signature covers (UTF-8). */
  implicitAssertion?: string;
}

const encoder = new TextEncoder();

/** Imports a verification key from a `k4.public.` PASERK or from 32 raw bytes in hex. */
export async function importPublicKey(key: string): Promise<PublicKey> {
  const paserk = key.startsWith('k4.public.')
    ? key
    : `k4.public.${Buffer.from(key, 'hex').toString('base64url')}`;
  return (await v4.ImportPublicKey(paserk as `k4.public.${string}`)) as PublicKey;
}

/**
 * Verifies a v4.public token: header, signature (over payload, footer and implicit assertion),
 * and the temporal claims. Tokens without `exp` are accepted (permanent machine tokens).
 * This is the function the emulator's auth uses; it returns a value instead of throwing.
 */
export async function verifyV4Public(key: PublicKey, token: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  if (typeof token !== 'string' || !token.startsWith('v4.public.')) {
    return { ok: false, reason: 'malformed', message: 'token is not a v4.public PASETO' };
  }
  try {
    const result = await v4.Verify(key, token, {
      allowNonExpiring: true,
      clockTolerance: 0,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.footer !== undefined ? { footer: encoder.encode(opts.footer) } : {}),
      ...(opts.implicitAssertion !== undefined ? { implicitAssertion: encoder.encode(opts.implicitAssertion) } : {}),
    });
    return { ok: true, claims: result.claims as Record<string, unknown>, footer: result.footer };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'ERR_PASETO_CLAIM_VALIDATION') {
      return { ok: false, reason: /expired/i.test(message) ? 'expired' : 'invalid-claims', message };
    }
    if (code === 'ERR_PASETO_INVALID_TOKEN') {
      return { ok: false, reason: /malformed/i.test(message) ? 'malformed' : 'invalid', message };
    }
    return { ok: false, reason: 'invalid', message };
  }
}

/** A short, stable, non-reversible name for a token, safe to log and to return in snapshots. */
export function tokenFingerprint(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

export interface MintOptions {
  permissions: string[];
  /** Milliseconds until expiry; `null` or absent = permanent (no `exp` claim). */
  expiresIn?: number | null;
  /** Absolute expiry; wins over `expiresIn`. May lie in the past (to test expiry). */
  expiresAt?: Date;
}

export type AuthResult =
  | { ok: true; permissions: string[]; subject: string | null; fingerprint: string }
  | { ok: false; reason: VerifyFailureReason; message: string };

/** The emulator's token issuer and checker: one key pair, a revocation set, a subject counter. */
export class TokenAuthority {
  private readonly revoked = new Set<string>();
  private issued = 0;

  private constructor(
    private readonly publicKey: PublicKey,
    private readonly secretKey: SecretKey,
    readonly publicKeyPaserk: string,
  ) {}

  static async create(): Promise<TokenAuthority> {
    const { publicKey, secretKey } = await v4.GenerateKeyPair();
    const paserk = await v4.ExportPublicKey(publicKey);
    return new TokenAuthority(publicKey as PublicKey, secretKey as SecretKey, paserk);
  }

  async mint(opts: MintOptions): Promise<string> {
    if (!Array.isArray(opts.permissions) || opts.permissions.some((p) => typeof p !== 'string')) {
      throw new TypeError('mint: permissions must be an array of strings');
    }
    const now = new Date();
    let exp: string | undefined;
    if (opts.expiresAt) exp = opts.expiresAt.toISOString();
    else if (typeof opts.expiresIn === 'number') {
      if (!Number.isFinite(opts.expiresIn)) throw new RangeError('mint: expiresIn must be finite');
      exp = new Date(now.getTime() + opts.expiresIn).toISOString();
    }
    this.issued += 1;
    const claims = {
      permissions: [...opts.permissions],
      iat: now.toISOString(),
      sub: `emulator-machine-${this.issued}`,
      ...(exp ? { exp } : {}),
    };
    return exp === undefined
      ? v4.Sign(this.secretKey, claims, { nonExpiring: true })
      : v4.Sign(this.secretKey, claims);
  }

  revoke(token: string): void {
    this.revoked.add(tokenFingerprint(token));
  }

  isRevoked(token: string): boolean {
    return this.revoked.has(tokenFingerprint(token));
  }

  /** Checks a bearer token: signature, expiry, revocation; then reads its permissions claim. */
  async authenticate(token: string, now?: Date): Promise<AuthResult> {
    const result = await verifyV4Public(this.publicKey, token, now ? { now } : {});
    if (!result.ok) return result;
    const fingerprint = tokenFingerprint(token);
    if (this.revoked.has(fingerprint)) return { ok: false, reason: 'revoked', message: 'token has been revoked' };
    const raw = result.claims.permissions;
    const permissions = Array.isArray(raw) ? raw.filter((p): p is string => typeof p === 'string') : [];
    const subject = typeof result.claims.sub === 'string' ? result.claims.sub : null;
    return { ok: true, permissions, subject, fingerprint };
  }
}
