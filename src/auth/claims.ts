/**
 * Reads what a token says about itself, without Senseye's key. For a v4.public token the
 * payload is signed, not encrypted: base64url(message || 64-byte Ed25519 signature). The
 * claims read this way are unverified, good for the agent's own checks (permissions, expiry)
 * and nothing more; the hub verifies the signature on every request anyway.
 * The paseto package has no decode-without-verify (deps.md), hence these few lines.
 */
export type TokenKind = 'v4.public' | 'v4.local' | 'jwt';

export interface TokenClaims {
  kind: TokenKind;
  /** Permission names from the `permissions` claim; null when the token is opaque (v4.local). */
  permissions: string[] | null;
  /** Expiry; null when permanent or unknown. */
  expiresAt: Date | null;
  subject: string | null;
}

export class TokenFormatError extends Error {
  readonly code = 'SENSEYE_TOKEN_FORMAT';
}

const ED25519_SIGNATURE_BYTES = 64;

export function readClaims(token: string): TokenClaims {
  const parts = token.split('.');
  if (parts[0] === 'v4' && parts[1] === 'local' && parts.length >= 3) {
    return { kind: 'v4.local', permissions: null, expiresAt: null, subject: null };
  }
  if (parts[0] === 'v4' && parts[1] === 'public' && (parts.length === 3 || parts.length === 4)) {
    const raw = Buffer.from(parts[2]!, 'base64url');
    if (raw.length <= ED25519_SIGNATURE_BYTES) throw new TokenFormatError('v4.public token is too short to hold claims and a signature');
    let claims: unknown;
    try {
      claims = JSON.parse(raw.subarray(0, raw.length - ED25519_SIGNATURE_BYTES).toString('utf8'));
    } catch {
      throw new TokenFormatError('v4.public token payload is not JSON');
    }
    return fromClaimObject('v4.public', claims);
  }
  if (/^v[1-3]\.(local|public)\./.test(token)) {
    throw new TokenFormatError(`a ${parts[0]}.${parts[1]} PASETO token was given; Senseye machine tokens are PASETO v4 (v4.public or v4.local)`);
  }
  if (parts.length === 3 && parts[0]!.startsWith('eyJ')) {
    let claims: unknown = {};
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      throw new TokenFormatError('token looks like a JWT but its payload is not JSON');
    }
    const c = claims as Record<string, unknown>;
    const exp = typeof c.exp === 'number' ? new Date(c.exp * 1000) : null;
    return { kind: 'jwt', permissions: null, expiresAt: exp, subject: typeof c.sub === 'string' ? c.sub : null };
  }
  throw new TokenFormatError('not a PASETO v4 token (expected it to start with "v4.public." or "v4.local.")');
}

function fromClaimObject(kind: TokenKind, claims: unknown): TokenClaims {
  if (typeof claims !== 'object' || claims === null) throw new TokenFormatError(`${kind} token claims are not a JSON object`);
  const c = claims as Record<string, unknown>;
  let expiresAt: Date | null = null;
  if (c.exp !== undefined) {
    const d = typeof c.exp === 'string' ? new Date(c.exp) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new TokenFormatError(`${kind} token has an unreadable "exp" claim (expected RFC 3339)`);
    expiresAt = d;
  }
  const permissions = Array.isArray(c.permissions) ? c.permissions.filter((p): p is string => typeof p === 'string') : [];
  return { kind, permissions, expiresAt, subject: typeof c.sub === 'string' ? c.sub : null };
}
