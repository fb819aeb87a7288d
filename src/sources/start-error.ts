/**
 * A source that cannot run at all (its port is taken, its certificate does not load, its
 * socket path is not a socket): reported by source name at start, with a hint, and treated
 * as a configuration problem (exit 78) — retrying would not fix it. Conditions that may clear
 * by themselves (a folder not mounted yet) are not errors: those sources wait and retry.
 */
export class SourceStartError extends Error {
  readonly code = 'SENSEYE_SOURCE_START';
  constructor(
    readonly source: string,
    message: string,
    readonly hint: string,
  ) {
    super(`source "${source}": ${message} (${hint})`);
    this.name = 'SourceStartError';
  }
}
