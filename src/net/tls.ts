/**
 * `hub.tls`: the CA that the hub's certificate must chain to, and an optional client
 * certificate (mutual TLS), read from their files once, at start. Invariant: verification of
 * the hub's certificate is never turned off; `ca_file` only adds trust. Node's `ca` option
 * replaces its built-in (Mozilla) list, so the list is passed along with the file: a ca_file for
 * a TLS-inspecting proxy does not make a public hub untrusted. (NODE_EXTRA_CA_CERTS is not part
 * of that list: with ca_file set, put every extra CA the hub needs into it.) A file that cannot be read, or a certificate
 * and key that do not make a usable pair, stops the start with a HubTlsError naming the setting
 * and the file: an agent that silently could not speak to its hub would only fill its outbox.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';

export interface HubTlsSettings {
  ca_file?: string | undefined;
  cert_file?: string | undefined;
  key_file?: string | undefined;
}

/** What undici's `connect` options (and node:tls) take. `ca` is Node's list plus ca_file's certificates. */
export interface HubTlsMaterial {
  ca?: Array<string | Buffer>;
  cert?: Buffer;
  key?: Buffer;
}

export class HubTlsError extends Error {
  readonly code = 'SENSEYE_HUB_TLS';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message} (${hint})`);
    this.name = 'HubTlsError';
  }
}

const WHAT = { ca_file: 'CA certificate', cert_file: 'client certificate', key_file: 'client key' } as const;

/** Reads the files `hub.tls` names; undefined when it names none. Throws HubTlsError. */
export function readHubTls(settings: HubTlsSettings | undefined): HubTlsMaterial | undefined {
  if (settings === undefined) return undefined;
  const { ca_file, cert_file, key_file } = settings;
  if ((cert_file === undefined) !== (key_file === undefined)) {
    throw new HubTlsError(
      `hub.tls: ${cert_file === undefined ? 'key_file' : 'cert_file'} is set without ${cert_file === undefined ? 'cert_file' : 'key_file'}`,
      'a client certificate needs both hub.tls.cert_file and hub.tls.key_file',
    );
  }
  const material: HubTlsMaterial = {};
  if (ca_file !== undefined) material.ca = [...rootCertificates, read('ca_file', ca_file)];
  if (cert_file !== undefined && key_file !== undefined) {
    material.cert = read('cert_file', cert_file);
    material.key = read('key_file', key_file);
  }
  if (material.ca === undefined && material.cert === undefined) return undefined;
  try {
    // Parses the PEM now rather than at the first connection, and checks that key and certificate match.
    createSecureContext(material);
  } catch (err) {
    const files = [ca_file, cert_file, key_file].filter((f) => f !== undefined).join(', ');
    throw new HubTlsError(
      `hub.tls: the files ${files} are not usable: ${(err as Error).message}`,
      'ca_file must hold PEM certificates; cert_file a PEM certificate (chain) and key_file its unencrypted PEM private key',
    );
  }
  return material;
}

/**
 * For `config check`: every problem with the files at once (readHubTls stops at the first),
 * as messages naming the setting and the file; empty when readHubTls would succeed.
 */
export function hubTlsProblems(settings: HubTlsSettings | undefined): string[] {
  if (settings === undefined) return [];
  const problems: string[] = [];
  for (const setting of ['ca_file', 'cert_file', 'key_file'] as const) {
    const file = settings[setting];
    if (file === undefined) continue;
    try {
      read(setting, file);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) return problems;
  try {
    readHubTls(settings);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

function read(setting: keyof typeof WHAT, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new HubTlsError(
      `hub.tls.${setting}: cannot read the ${WHAT[setting]} ${file} (${code})`,
      code === 'ENOENT' ? 'the file does not exist: check the path (relative paths are relative to the config file)' : 'check the file permissions for the user the agent runs as',
    );
  }
}
