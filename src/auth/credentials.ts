/**
 * The one place the daemon gets its bearer credential from, whichever kind is configured:
 * a machine token (default) or a user token from the OAuth password grant.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { readHubTls } from '../net/tls.js';
import { MachineTokenProvider } from './machine-token-provider.js';
import type { MachineToken } from './token.js';
import { UserTokenProvider } from './user-token-provider.js';

export interface CredentialProvider {
  /** The credential to send now, or null while there is none usable (user token not fetched yet). */
  current(): MachineToken | null;
  /** Why current() is null, if it is. */
  problem(): string | null;
  onChange(listener: (token: MachineToken) => void): void;
  start(): void;
  stop(): void;
  /** SIGHUP: read the token again (machine) or fetch a new one (user). */
  reload(reason: string): Promise<boolean>;
  /** The hub answered 401 to the current credential. */
  rejected(): void;
}

export async function createCredentialProvider(config: Config, env: NodeJS.ProcessEnv, logger: Logger): Promise<CredentialProvider> {
  const auth = config.hub.auth;
  if (auth.type === 'user') {
    const provider = new UserTokenProvider({
      hubUrl: config.hub.url,
      tokenPath: auth.token_path,
      username: auth.username,
      passwordFile: auth.password_file,
      clientId: auth.client_id,
      stateDir: config.state_dir,
      logger,
      timeoutMs: config.hub.timeout,
      tls: readHubTls(config.hub.tls),
      retry: { initialDelayMs: config.hub.retry.initial_delay, maxDelayMs: config.hub.retry.max_delay },
    });
    return provider;
  }
  const machine = await MachineTokenProvider.create({
    tokenFile: config.hub.token_file,
    env,
    publicKey: config.hub.token_public_key,
    checkIntervalMs: config.hub.token_check_interval,
    logger,
  });
  return {
    current: () => machine.current(),
    problem: () => null,
    onChange: (l) => machine.onChange(l),
    start: () => machine.start(),
    stop: () => machine.stop(),
    reload: (reason) => machine.reload(reason),
    // A revoked token: look for a replacement now rather than at the next periodic check.
    rejected: () => void machine.reload('hub answered 401'),
  };
}
