/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof` or the inspector) and says where the time went:
 * self time per function (the time the sampled stack had that function on top), per module
 * (dist/<folder>/<file>, node_modules/<package>, node:internals, native), and how much of the
 * wall time the thread was idle (waiting for I/O: then the process is not CPU-bound).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

function shortUrl(url) {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm !== -1) return u.slice(nm + '/node_modules/'.length);
  const d = u.lastIndexOf('/dist/');
  if (d !== -1) return u.slice(d + 1);
  const b = u.lastIndexOf('/bench/');
  if (b !== -1) return u.slice(b + 1);
  return u.startsWith('node:') ? u : u.split('/').slice(-2).join('/');
}

function moduleOf(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native: V8 builtins, C++ bindings such as better-sqlite3)';
  const s = shortUrl(url);
  if (s.startsWith('node:')) return 'node: internals';
  if (url.includes('/node_modules/')) return `node_modules/${s.split('/')[0].startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]}`;
  return s;
}

/** { totalMs, idleMs, busyMs, gcMs, top: [{fn, where, ms, pct}], modules: [{module, ms, pct}] } */
export function summarizeProfile(file, { top = 12 } = {}) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples, timeDeltas } = p;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0; // sample i lasts until the next one
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const byFn = new Map();
  const byModule = new Map();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of selfUs) {
    const n = nodes.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    totalUs += us;
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    if (name === '(garbage collector)') gcUs += us;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const mod = moduleOf(cf.url, name);
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ key: k, ms: us / 1000, pct: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    gcMs: gcUs / 1000,
    top: rank(byFn).map(({ key, ms, pct }) => {
      const [fn, where] = key.split('\u0000');
      return { fn, where, ms, pct };
    }),
    modules: rank(byModule).map(({ key, ms, pct }) => ({ module: key, ms, pct })),
  };
}

/** Profiles `fn` in this process with the inspector (100 µs sampling) and writes the .cpuprofile. */
export async function profileInProcess(file, fn) {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const result = await fn();
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    return result;
  } finally {
    session.disconnect();
  }
}
