/**
 * Where the machine token comes from, first found wins:
 *   1. hub.token_file
 *   2. the SENSEYE_TOKEN environment variable
 *   3. $CREDENTIALS_DIRECTORY/senseye-token   (systemd LoadCredential=)
 *   4. /run/secrets/senseye-token             (Docker and Kubernetes secrets)
 * Surrounding whitespace is ignored. A token file that other users may read gets a warning
 * naming the file and its mode. The token text is returned to the caller only; it is never
 * part of a message.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const CREDENTIAL_NAME = 'senseye-token';
export const DOCKER_SECRET_PATH = '/run/secrets/senseye-token';

export interface TokenLocation {
  /** A file path, or "SENSEYE_TOKEN" for the environment variable. */
  origin: string;
  kind: 'file' | 'env';
}

export interface FoundToken extends TokenLocation {
  text: string;
  /** Set when a file is readable by group or others, e.g. "mode 0644". */
  looseMode?: string | undefined;
}

export interface TokenSearch {
  tokenFile?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** For tests; defaults to /run/secrets/senseye-token. */
  dockerSecretPath?: string;
}

export class TokenNotFoundError extends Error {
  readonly code = 'SENSEYE_TOKEN_MISSING';
}

/** Where to look, in order; the first that exists is the token's location. */
export function candidateLocations(search: TokenSearch): TokenLocation[] {
  const out: TokenLocation[] = [];
  if (search.tokenFile !== undefined) return [{ origin: search.tokenFile, kind: 'file' }];
  if (search.env.SENSEYE_TOKEN !== undefined && search.env.SENSEYE_TOKEN.trim() !== '') out.push({ origin: 'SENSEYE_TOKEN', kind: 'env' });
  if (search.env.CREDENTIALS_DIRECTORY) out.push({ origin: path.join(search.env.CREDENTIALS_DIRECTORY, CREDENTIAL_NAME), kind: 'file' });
  out.push({ origin: search.dockerSecretPath ?? DOCKER_SECRET_PATH, kind: 'file' });
  return out;
}

export function findToken(search: TokenSearch): FoundToken {
  const candidates = candidateLocations(search);
  for (const loc of candidates) {
    if (loc.kind === 'env') return { ...loc, text: search.env.SENSEYE_TOKEN!.trim() };
    // hub.token_file is explicit: its absence is an error, not a reason to look elsewhere.
    if (search.tokenFile === undefined && !existsSync(loc.origin)) continue;
    return readTokenFile(loc.origin);
  }
  throw new TokenNotFoundError(
    'no machine token found: set hub.token_file, or the SENSEYE_TOKEN environment variable, or provide ' +
      `$CREDENTIALS_DIRECTORY/${CREDENTIAL_NAME} (systemd LoadCredential=) or ${search.dockerSecretPath ?? DOCKER_SECRET_PATH} (container secret)`,
  );
}

export function readTokenFile(file: string): FoundToken {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TokenNotFoundError(`token file ${file} cannot be read (${code}): check the path and that the agent's user may read it`);
  }
  const token = text.trim();
  if (token.length === 0) throw new TokenNotFoundError(`token file ${file} is empty: put the machine token from Senseye support in it`);
  const loose = (mode & 0o044) !== 0 ? `mode 0${(mode & 0o777).toString(8)}` : undefined;
  return { origin: file, kind: 'file', text: token, looseMode: loose };
}
