/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every
 * line must be a HELP, a TYPE, a comment or a well-formed sample, a family's TYPE comes before
 * its samples and only once, label values use the format's escapes, and a sample belongs to the
 * family its name (less _bucket/_sum/_count/_created for histograms and summaries) names. It
 * throws on the first malformed line, with its number. (No npm package for this is both small
 * and maintained; prom-client only writes the format.)
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const typed = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`bad metric name in ${where}`);
      const f = family(name!);
      if (kind === 'HELP') f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      else {
        if (!TYPES.has(rest)) throw new Error(`unknown type in ${where}`);
        if (typed.has(name!)) throw new Error(`second TYPE for ${name} in ${where}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples of ${name} in ${where}`);
        typed.add(name!);
        f.type = rest as Family['type'];
      }
      return;
    }
    const sample = parseSample(line, where);
    const owner = familyOf(sample.name, families);
    family(owner).samples.push(sample);
  });
  return families;
}

function familyOf(sampleName: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const f = families.get(base);
    if (f !== undefined && (f.type === 'histogram' || f.type === 'summary')) return base;
  }
  return sampleName;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (m === null) throw new Error(`bad sample in ${where}`);
  const name = m[1]!;
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    while (line[pos] !== '}') {
      const lm = /^([^=,{}"\s]+)="/.exec(line.slice(pos));
      if (lm === null || !LABEL_NAME.test(lm[1]!)) throw new Error(`bad label in ${where}`);
      pos += lm[0].length;
      let value = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) throw new Error(`unterminated label value in ${where}`);
        pos++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos++];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new Error(`bad escape in ${where}`);
        } else value += c;
      }
      if (lm[1]! in labels) throw new Error(`repeated label ${lm[1]} in ${where}`);
      labels[lm[1]!] = value;
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new Error(`expected , or } in ${where}`);
    }
    pos++;
  }
  const rest = line.slice(pos);
  const vm = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (vm === null) throw new Error(`bad value in ${where}`);
  const raw = vm[1]!;
  // As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case; prom-client writes "Nan".
  let value: number;
  if (/^nan$/i.test(raw)) value = NaN;
  else if (/^[+-]?inf(inity)?$/i.test(raw)) value = raw.startsWith('-') ? -Infinity : Infinity;
  else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) value = Number(raw);
  else throw new Error(`bad number in ${where}`);
  return { name, labels, value };
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
