/**
 * Words for a request to the hub that got no HTTP answer. Invariant: every such error becomes
 * one of three labels, and a TLS failure is never worded as a plain network error: an operator
 * reading "TLS: self-signed certificate in certificate chain (set hub.tls.ca_file to the hub's
 * CA)" knows it is a trust setting to fix, not a cable to check. Pure: no I/O, no clock.
 *
 * Codes come from Node's TLS layer (OpenSSL verify results such as SELF_SIGNED_CERT_IN_CHAIN,
 * Node's ERR_TLS_* and ERR_SSL_* codes) and undici (UND_ERR_*); undici passes the TLS error of a
 * failed handshake through as it is, and fetch-style wrappers put it in `cause`, so both are read.
 */

export type NetworkErrorLabel = 'tls' | 'timeout' | 'network';

export interface NetworkErrorDescription {
  label: NetworkErrorLabel;
  /** One line for logs, status and the outcome reason. */
  reason: string;
}

const TRUST = "set hub.tls.ca_file to the hub's CA";
const CLOCK = "check this machine's clock; if it is right, the hub's certificate must be renewed";
const NAME = "hub.url's host must be a name (or IP address) the hub's certificate is issued for";
const CLIENT_CERT = 'the hub refused the client certificate: set hub.tls.cert_file and hub.tls.key_file to one it trusts';

/** OpenSSL verify results Node reports as `err.code` when the hub's certificate is not trusted. */
const VERIFY_HINTS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: TRUST,
  DEPTH_ZERO_SELF_SIGNED_CERT: TRUST,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: TRUST,
  UNABLE_TO_GET_ISSUER_CERT: TRUST,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: TRUST,
  CERT_UNTRUSTED: TRUST,
  CERT_REJECTED: TRUST,
  INVALID_CA: TRUST,
  CERT_SIGNATURE_FAILURE: TRUST,
  CERT_CHAIN_TOO_LONG: TRUST,
  PATH_LENGTH_EXCEEDED: TRUST,
  INVALID_PURPOSE: "the hub's certificate is not a server certificate (extendedKeyUsage serverAuth)",
  CERT_HAS_EXPIRED: CLOCK,
  CERT_NOT_YET_VALID: CLOCK,
  ERROR_IN_CERT_NOT_BEFORE_FIELD: CLOCK,
  ERROR_IN_CERT_NOT_AFTER_FIELD: CLOCK,
  CERT_REVOKED: 'the hub presented a revoked certificate',
  HOSTNAME_MISMATCH: NAME,
  ERR_TLS_CERT_ALTNAME_INVALID: NAME,
};

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  socket?: { bytesRead?: unknown } | undefined;
}

export function describeNetworkError(err: unknown): NetworkErrorDescription {
  const chain = causes(err);
  for (const e of chain) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code === undefined) continue;
    const tls = tlsHint(code);
    if (tls !== undefined) return { label: 'tls', reason: `TLS: ${firstLine(e.message) || code} [${code}] (${tls})` };
  }
  for (const e of chain) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if ((code !== undefined && TIMEOUT_CODES.has(code)) || e.name === 'TimeoutError') {
      return { label: 'timeout', reason: `timeout: ${code ?? String(e.name)}: ${firstLine(e.message)}` };
    }
  }
  const top = chain[0] ?? {};
  const code = typeof top.code === 'string' ? top.code : typeof top.name === 'string' ? top.name : 'Error';
  let reason = `network error: ${code}: ${firstLine(top.message) || String(err)}`;
  // A hub that requires a client certificate and gets none (TLS 1.3) completes the handshake and
  // then closes: undici sees only "other side closed" with nothing read. Say what it may be.
  if (code === 'UND_ERR_SOCKET' && top.socket?.bytesRead === 0) {
    reason += ' before answering (if the hub requires a client certificate: set hub.tls.cert_file and hub.tls.key_file)';
  }
  return { label: 'network', reason };
}

function tlsHint(code: string): string | undefined {
  const known = VERIFY_HINTS[code];
  if (known !== undefined) return known;
  if (/^ERR_SSL_.*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE|CERTIFICATE_EXPIRED)$/.test(code)) {
    return CLIENT_CERT;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return 'the other side does not speak TLS: does hub.url say https:// for a plain http:// hub?';
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'check hub.url and hub.tls';
  return undefined;
}

/** The error and its causes, outermost first (bounded: a cause chain can be circular). */
function causes(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e: unknown = err;
  while (e !== null && typeof e === 'object' && out.length < 5 && !out.includes(e as ErrorLike)) {
    out.push(e as ErrorLike);
    e = (e as ErrorLike).cause;
  }
  return out;
}

/** OpenSSL's messages carry a location after a newline-free ":...:" tail; keep the readable part. */
function firstLine(message: unknown): string {
  if (typeof message !== 'string') return '';
  const line = message.split('\n', 1)[0]!.trim();
  // "804C…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…" → "wrong version number"
  const ssl = /:SSL routines:[^:]*:([^:]+):/.exec(line);
  return ssl ? ssl[1]! : line;
}
