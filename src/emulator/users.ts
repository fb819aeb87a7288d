/**
 * User tokens, as Senseye's OAuth password grant issues them: `POST /oauth/token` with
 * `grant_type=password&username=…&password=…` (form-encoded) answers
 * `{ access_token, token_type: "Bearer", expires_in }`. The access token is a JWT (HS256 with a
 * per-emulator secret) whose `sub` is the user; the hub endpoints accept it like a machine
 * token, with the user's permissions. Only the emulator reads these JWTs.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HubReply } from './context.js';
import { restError } from './http.js';

export interface EmulatorUser {
  username: string;
  password: string;
  permissions: string[];
}

export type UserAuth = { ok: true; permissions: string[]; subject: string } | { ok: false; reason: 'invalid' | 'expired'; message: string };

export class UserAuthority {
  private readonly secret = randomBytes(32);
  private readonly users: Map<string, EmulatorUser>;
  issued = 0;

  constructor(
    users: readonly EmulatorUser[],
    private readonly ttlSeconds: number,
  ) {
    this.users = new Map(users.map((u) => [u.username, u]));
  }

  static looksLikeJwt(token: string): boolean {
    return token.startsWith('eyJ') && token.split('.').length === 3;
  }

  /** The token endpoint's answer to a form-encoded body. */
  grant(body: string): HubReply {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'password') {
      return { ...restError(400, 'unsupported_grant_type', 'grant_type must be password'), errorCode: 'unsupported_grant_type' };
    }
    const user = this.users.get(form.get('username') ?? '');
    const password = Buffer.from(form.get('password') ?? '');
    const expected = Buffer.from(user?.password ?? '');
    if (user === undefined || password.length !== expected.length || !timingSafeEqual(password, expected)) {
      return { ...restError(401, 'invalid_grant', 'wrong username or password'), errorCode: 'invalid_grant' };
    }
    this.issued++;
    const now = Math.floor(Date.now() / 1000);
    const token = this.sign({ sub: user.username, iat: now, exp: now + this.ttlSeconds, jti: this.issued });
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds } };
  }

  authenticate(token: string): UserAuth {
    const [header, payload, signature] = token.split('.');
    if (header === undefined || payload === undefined || signature === undefined) return { ok: false, reason: 'invalid', message: 'malformed JWT' };
    const expected = createHmac('sha256', this.secret).update(`${header}.${payload}`).digest('base64url');
    if (expected !== signature) return { ok: false, reason: 'invalid', message: 'JWT signature does not verify' };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub: string; exp: number };
    if (claims.exp * 1000 <= Date.now()) return { ok: false, reason: 'expired', message: 'user token expired' };
    const user = this.users.get(claims.sub);
    if (user === undefined) return { ok: false, reason: 'invalid', message: 'unknown user' };
    return { ok: true, permissions: user.permissions, subject: user.username };
  }

  private sign(claims: object): string {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = createHmac('sha256', this.secret).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${signature}`;
  }
}
