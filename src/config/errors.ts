/**
 * Configuration problems are reported all at once, each with the file, line (where the YAML
 * tells us), the key path and what is wrong, so one edit round fixes everything.
 */
export interface ConfigProblem {
  /** `sources[1].path`, or '' for the whole document. */
  path: string;
  message: string;
  line?: number | undefined;
}

export class ConfigError extends Error {
  readonly code = 'SENSEYE_CONFIG_INVALID';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  ${formatProblem(file, p)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line === undefined ? file : `${file}:${p.line}`;
  return p.path.length > 0 ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** ['sources', 1, 'path'] → 'sources[1].path' */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out.length === 0 ? String(key) : `.${String(key)}`;
  }
  return out;
}
