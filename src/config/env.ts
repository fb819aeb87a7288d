/**
 * `${VAR}` and `${VAR:-default}` in config values, replaced from the environment. Applied to
 * the parsed YAML's string values (never to the raw text), so a variable cannot inject YAML
 * structure. `$${` writes a literal `${`.
 */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface Substitution {
  value: unknown;
  /** Paths of strings that named a variable which is not set and has no default. */
  missing: Array<{ path: PropertyKey[]; variable: string }>;
}

export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv): Substitution {
  const missing: Substitution['missing'] = [];
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') {
      return node.replace(REFERENCE, (whole, variable: string | undefined, fallback: string | undefined) => {
        if (variable === undefined) return '${';
        const found = env[variable];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        missing.push({ path, variable });
        return whole;
      });
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return node;
  };
  return { value: walk(value, []), missing };
}
