/**
 * Names what went wrong when a request got no answer at all, for the log, the metrics and the
 * operator: a timeout, a TLS failure (with what to set), or another network error.
 */
export interface NetworkErrorDescription {
  /** The hub_requests_total label: `timeout`, `tls` or `network`. */
  label: 'timeout' | 'tls' | 'network';
  reason: string;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

export function describeNetworkError(err: unknown): NetworkErrorDescription {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? e.name;
  const message = e.cause?.message ?? e.message;
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return { label: 'tls', reason: `TLS: ${code}: ${message} (set hub.tls.ca_file to the CA that signed the hub's certificate, or check hub.url's host name)` };
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { label: 'timeout', reason: `timeout: ${code}: ${message}` };
  }
  return { label: 'network', reason: `network error: ${code}: ${message}` };
}
