/**
 * Reads the YAML config, substitutes `${VAR}`, validates it with the schema and returns a
 * typed Config, or throws one ConfigError listing every problem with its line. Relative paths
 * in the config are resolved against the config file's folder, so a config works from any cwd.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { substituteEnv } from './env.js';
import { ConfigError, formatPath, type ConfigProblem } from './errors.js';
import { configSchema, crossChecks, type Config } from './schema.js';
import { mergeInput } from './input-schema.js';
import { resolveSourcePaths } from './sources-schema.js';

export interface LoadedConfig {
  config: Config;
  file: string;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError(file, [{ path: '', message: reason }]);
  }
  return { config: parseConfigText(text, file, env), file: absolute };
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: '',
        message: `YAML: ${e.message.split('\n')[0]}`,
        line: e.linePos?.[0]?.line,
      })),
    );
  }
  const lineOf = (p: readonly PropertyKey[]) => lineOfPath(doc, lineCounter, p);
  const raw: unknown = doc.toJS() ?? {};
  const { value, missing } = substituteEnv(raw, env);
  const problems: ConfigProblem[] = missing.map((m) => ({
    path: formatPath(m.path),
    message: `environment variable ${m.variable} is not set (write \${${m.variable}:-default} to give a default)`,
    line: lineOf(m.path),
  }));
  for (const check of crossChecks(value)) {
    problems.push({ path: formatPath(check.path), message: check.message, line: lineOf(check.path) });
  }
  const result = configSchema.safeParse(value);
  if (!result.success) {
    const unset = new Set(missing.map((m) => formatPath(m.path)));
    for (const issue of result.error.issues) {
      const issuePath = issue.path as PropertyKey[];
      // A value that names an unset variable is already reported as such.
      if (unset.has(formatPath(issuePath))) continue;
      let message = issue.message.replace(/^Invalid input: /, '');
      if (issue.code === 'unrecognized_keys') {
        message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
        // Point at the unknown key itself where possible.
        const keyPath = [...issuePath, issue.keys[0]!];
        problems.push({ path: formatPath(issuePath), message, line: lineOf(keyPath) ?? lineOf(issuePath) });
        continue;
      }
      problems.push({ path: formatPath(issuePath), message, line: lineOf(issuePath) });
    }
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  const config = result.data!;
  return resolvePaths(config, path.dirname(path.resolve(file)));
}

function resolvePaths(config: Config, base: string): Config {
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(base, p));
  return {
    ...config,
    state_dir: abs(config.state_dir),
    hub: {
      ...config.hub,
      token_file: config.hub.token_file === undefined ? undefined : abs(config.hub.token_file),
      tls:
        config.hub.tls === undefined
          ? undefined
          : {
              ca_file: config.hub.tls.ca_file === undefined ? undefined : abs(config.hub.tls.ca_file),
              cert_file: config.hub.tls.cert_file === undefined ? undefined : abs(config.hub.tls.cert_file),
              key_file: config.hub.tls.key_file === undefined ? undefined : abs(config.hub.tls.key_file),
            },
      auth: config.hub.auth.type === 'user' ? { ...config.hub.auth, password_file: abs(config.hub.auth.password_file) } : config.hub.auth,
    },
    // Each source carries its complete input settings: the top level's, with its own overrides.
    sources: config.sources.map((s) => ({ ...resolveSourcePaths(s, abs), input: mergeInput(config.input, s.input) })),
  };
}

/** The 1-based line of the deepest YAML node that exists along `p`. */
function lineOfPath(doc: Document, counter: LineCounter, p: readonly PropertyKey[]): number | undefined {
  for (let depth = p.length; depth >= 0; depth--) {
    const node = doc.getIn(p.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}
