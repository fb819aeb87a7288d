/**
 * Results: printed as they come, kept in bench/results.json (one entry per benchmark, each with
 * its own date and load, so running one benchmark again replaces only its entry), and rendered
 * into bench/RESULTS.md with the machine's description, a summary table, and per benchmark the
 * figures, targets, verdicts and, where a target was missed, the profile of what bounds it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fmt, judge, summarize } from './stats.js';

/** Adds median/min/max and the verdict to each figure. */
export function finishFigures(figures) {
  return figures.map((f) => {
    const s = summarize(f.values);
    const { met, by } = judge(s.median, f.target);
    return { ...f, ...s, met, by };
  });
}

export function targetText(t, unit) {
  if (!t) return '—';
  return `${t.op === '>=' ? '≥' : '≤'} ${fmt(t.value, 2)} ${unit}`;
}

export function verdictText(f) {
  if (f.met === null) return 'no target';
  if (f.met) return 'met';
  if (f.target.value === 0) return `MISSED: ${fmt(f.median, 2)} instead of 0`;
  const pct = (f.by * 100).toFixed(f.by < 0.1 ? 1 : 0);
  return f.target.op === '>=' ? `MISSED: ${pct} % below` : `MISSED: ${pct} % above`;
}

/** One figure as a console line. */
export function figureLine(f) {
  const range = f.runs > 1 ? ` (min ${fmt(f.min, 2)}, max ${fmt(f.max, 2)}, ${f.runs} runs)` : '';
  const target = f.target ? `  target ${targetText(f.target, f.unit)}: ${verdictText(f)}` : '';
  return `${f.label}: ${fmt(f.median, 2)} ${f.unit}${range}${target}`;
}

export function loadStore(file) {
  if (!existsSync(file)) return { machine: null, benchmarks: {} };
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { machine: null, benchmarks: {} };
  }
}

export function saveStore(file, store) {
  writeFileSync(file, `${JSON.stringify(store, null, 1)}\n`);
}

const esc = (s) => String(s).replace(/\|/g, '\\|');

function profileTable(p) {
  const s = p.summary;
  const lines = [];
  const idle = s.totalMs > 0 ? ((100 * s.idleMs) / s.totalMs).toFixed(0) : '0';
  lines.push(
    `**Profile: ${esc(p.label)}.** ${fmt(s.totalMs / 1000, 1)} s sampled, ${idle} % idle (waiting on I/O or timers), ` +
      `${fmt(s.busyMs / 1000, 1)} s busy of which GC ${s.busyMs > 0 ? ((100 * s.gcMs) / s.busyMs).toFixed(0) : 0} %. Top self time (share of busy time):`,
  );
  lines.push('', '| self % | ms | function | where |', '| ---: | ---: | --- | --- |');
  for (const t of s.top.slice(0, 12)) {
    const fn = t.fn.length > 60 ? `${t.fn.slice(0, 57)}…` : t.fn;
    lines.push(`| ${t.pct.toFixed(1)} | ${fmt(t.ms)} | \`${esc(fn)}\` | ${esc(t.where || '(native)')} |`);
  }
  lines.push('', 'By module:', '', '| self % | module |', '| ---: | --- |');
  for (const m of s.modules.slice(0, 8)) lines.push(`| ${m.pct.toFixed(1)} | ${esc(m.module)} |`);
  return lines.join('\n');
}

/** The side-by-side ratio table (benchmark 11), put first in RESULTS.md: agent, Fluent Bit, ratio, target. */
function leadTable(e) {
  const num = (v, kind) => (kind === 'rate' ? fmt(Math.round(v)) : kind === 'us' ? v.toFixed(2) : v.toFixed(0));
  const lines = [
    `## ${e.title}`,
    '',
    `Measured ${e.date}${e.quick ? ' (quick sizes)' : ''}; load before \`${e.loadBefore}\`, after \`${e.loadAfter}\`. Details and method in [section ${e.title.split('.')[0]}](#${e.title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')}) below.`,
    '',
    '| | agent | Fluent Bit | agent / Fluent Bit | target |',
    '| --- | ---: | ---: | ---: | --- |',
  ];
  for (const [label, agent, fb, ratio, target, kind] of e.lead) lines.push(`| ${esc(label)} | ${num(agent, kind)} | ${num(fb, kind)} | ${ratio.toFixed(2)}x | ${target} |`);
  lines.push('');
  return lines;
}

export function renderMarkdown(store, order) {
  const m = store.machine;
  const out = [];
  out.push('# Benchmark results', '');
  out.push(
    'Written by `npm run bench` (bench/run.js); see docs/performance.md for what each setting trades. ' +
      'Each figure is the **median** of several runs with min and max. The machine was shared with other ' +
      "engineers' test runs while these were measured, so figures are noisy (expect ±20 % run to run); the " +
      'load average (`uptime`) before and after each benchmark is recorded with it. Targets are from issue 8.',
    '',
  );
  if (m) {
    out.push('## Machine', '');
    out.push('| | |', '| --- | --- |');
    out.push(`| CPUs (\`nproc\`) | ${m.nproc} |`);
    out.push(`| CPU model | ${esc(m.cpu)} |`);
    out.push(`| Node | ${m.node} |`);
    out.push(`| kernel | ${esc(m.kernel)} |`);
    out.push(`| commit measured | ${esc(m.commit)} |`);
    out.push(`| load at the start of the latest \`npm run bench\` | ${esc(m.load)} |`);
    out.push('', '```', m.memory, '```', '');
  }
  const entries = order.filter((k) => store.benchmarks[k]).map((k) => store.benchmarks[k]);
  for (const e of entries.filter((x) => x.lead)) out.splice(2, 0, ...leadTable(e));
  out.push('## Summary', '');
  out.push('| benchmark | figure | median | target | verdict |', '| --- | --- | ---: | --- | --- |');
  for (const e of entries) {
    for (const f of e.figures) {
      out.push(`| ${esc(e.title)} | ${esc(f.label)} | ${fmt(f.median, 2)} ${f.unit} | ${targetText(f.target, f.unit)} | ${verdictText(f)} |`);
    }
  }
  out.push('');
  for (const e of entries) {
    out.push(`## ${e.title}`, '');
    out.push(`Measured ${e.date}${e.quick ? ' (quick sizes)' : ''}, ${fmt(e.seconds)} s. Load before: \`${e.loadBefore}\`; after: \`${e.loadAfter}\`.`, '');
    if (e.method) out.push(`Method: ${e.method}`, '');
    out.push('| figure | median | min | max | runs | target | verdict |', '| --- | ---: | ---: | ---: | ---: | --- | --- |');
    for (const f of e.figures) {
      out.push(
        `| ${esc(f.label)} | ${fmt(f.median, 2)} ${f.unit} | ${fmt(f.min, 2)} | ${fmt(f.max, 2)} | ${f.runs} | ${targetText(f.target, f.unit)} | ${verdictText(f)} |`,
      );
    }
    out.push('');
    const extras = e.figures.filter((f) => f.extra);
    if (extras.length > 0) {
      for (const f of extras) out.push(`- ${esc(f.label)}: ${f.extra}`);
      out.push('');
    }
    for (const n of e.notes ?? []) out.push(`- ${n}`);
    if ((e.notes ?? []).length > 0) out.push('');
    if (e.error) out.push(`**The benchmark failed:** ${esc(e.error)}`, '');
    if (e.bounds && e.figures.some((f) => f.met === false || f.profileAlways)) out.push(`**What bounds it.** ${e.bounds}`, '');
    for (const p of e.profiles ?? []) out.push(profileTable(p), '');
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
