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
import type { SecretKey } from 'paseto/v4/public';
import { v4, verifyV4Public, type PublicKey, type VerifyFailureReason } from '../auth/paseto-v4.js';

export { importPublicKey, verifyV4Public } from '../auth/paseto-v4.js';
export type { PublicKey, VerifyFailureReason, VerifyOptions, VerifyResult } from '../auth/paseto-v4.js';

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
  /** Tokens whose signature verified, until their `exp`: an Ed25519 check per request was ~10 % of the emulator's CPU. */
  private readonly verified = new Map<string, { claims: Record<string, unknown>; until: number }>();

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
    let claims = now === undefined ? this.cachedClaims(token) : null;
    if (claims === null) {
      const result = await verifyV4Public(this.publicKey, token, now ? { now } : {});
      if (!result.ok) return result;
      claims = result.claims;
      if (now === undefined) this.remember(token, claims);
    }
    const fingerprint = tokenFingerprint(token);
    if (this.revoked.has(fingerprint)) return { ok: false, reason: 'revoked', message: 'token has been revoked' };
    const raw = claims.permissions;
    const permissions = Array.isArray(raw) ? raw.filter((p): p is string => typeof p === 'string') : [];
    const subject = typeof claims.sub === 'string' ? claims.sub : null;
    return { ok: true, permissions, subject, fingerprint };
  }

  private cachedClaims(token: string): Record<string, unknown> | null {
    const hit = this.verified.get(token);
    if (hit === undefined) return null;
    if (Date.now() < hit.until) return hit.claims;
    this.verified.delete(token); // expired: verify again, which reports it
    return null;
  }

  private remember(token: string, claims: Record<string, unknown>): void {
    if (this.verified.size >= 256) this.verified.clear();
    const exp = typeof claims.exp === 'string' ? Date.parse(claims.exp) : Number.POSITIVE_INFINITY;
    this.verified.set(token, { claims, until: Number.isNaN(exp) ? 0 : exp });
  }
}
