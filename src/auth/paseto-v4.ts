/**
 * PASETO v4.public through the `paseto` package: the protocol object, key import (PASERK
 * k4.public or raw hex) and verification that returns a value instead of throwing. Shared by
 * the agent (optional signature check with hub.token_public_key) and the hub emulator.
 */
import { PublicProtocol } from 'paseto';
import {
  ExportPublicKeyFactory,
  GenerateKeyPairFactory,
  ImportPublicKeyFactory,
  SignFactory,
  VerifyFactory,
  type PublicKey,
} from 'paseto/v4/public';

export const v4 = new PublicProtocol(
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
