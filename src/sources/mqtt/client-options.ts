/**
 * An mqtt source's settings → the `mqtt` package's client options. Files (password, CA,
 * certificate, key) are read here, once per connection attempt's configuration, so a file that
 * cannot be read is a start error naming the setting, and the password never sits in the config.
 * Reconnecting is ours (connection.ts: jittered, capped), so the package's own is off.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { MqttSourceConfig } from '../../config/mqtt-schema.js';

export class ClientOptionsError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

function readSetting(setting: string, file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ClientOptionsError(setting, `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function clientOptionsOf(config: MqttSourceConfig): IClientOptions {
  const options: IClientOptions = {
    clientId: config.client_id ?? `senseye-agent-${config.name}-${process.pid}`,
    clean: config.clean_session,
    protocolVersion: config.protocol_version,
    keepalive: Math.max(1, Math.round(config.keepalive / 1000)),
    connectTimeout: config.connect_timeout,
    reconnectPeriod: 0,
    // Subscriptions are made again after each connect by the source (a broker may have lost them).
    resubscribe: false,
    // QoS 1 acknowledgements wait for the commit; the broker stops sending at this many unacknowledged.
    // MQTT 5 ends a session with its connection unless it is given an expiry.
    properties:
      config.protocol_version === 5
        ? { receiveMaximum: config.max_inflight, sessionExpiryInterval: config.clean_session ? 0 : Math.min(0xffffffff, Math.round(config.session_expiry / 1000)) }
        : undefined,
  };
  if (config.username !== undefined) options.username = config.username;
  if (config.password_file !== undefined) {
    const text = readSetting('password_file', config.password_file, 'the password file').toString('utf8');
    options.password = text.split(/\r?\n/)[0] ?? '';
  }
  if (config.tls !== undefined) {
    const tls = config.tls;
    if (tls.ca !== undefined) options.ca = readSetting('tls.ca', tls.ca, 'the CA file');
    if (tls.cert !== undefined) options.cert = readSetting('tls.cert', tls.cert, 'the certificate file');
    if (tls.key !== undefined) options.key = readSetting('tls.key', tls.key, 'the key file');
    if (tls.server_name !== undefined) options.servername = tls.server_name;
    options.rejectUnauthorized = true;
  }
  return options;
}

/** The URL without credentials, for logs and dead letters. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
