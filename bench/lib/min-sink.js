#!/usr/bin/env node
/**
 * A minimal HTTP sink for the side-by-side benchmark (bench/versus-fluent-bit.js), run as its own
 * process: `node bench/lib/min-sink.js <readings> <base-ms>`. It takes what Fluent Bit's http
 * output sends (POST /ingest, json_lines: one JSON object per line with a `seq` field) and what
 * the agent sends to the Internal Hub (POST <sensors path> → 201 {id}; POST <graphql path> →
 * 200 with the echoed clientMutationId: the success answer of docs/hub-contract.md), and marks
 * each reading's sequence number in a bitset: Fluent Bit's `seq`, the agent's timestamp minus
 * <base-ms> (the benchmark writes reading i at base + i ms). Both bodies are JSON.parse'd whole
 * (line by line for json_lines), so both sides cost the sink about the same per reading; no
 * token check, no store, no log: the emulator's per-reading cost must not decide the figure.
 *
 * Prints one JSON line when listening: {"url": "...", "port": N}. GET /_sink answers
 * {distinct, points, requests, firstAt, doneAt, cpuSeconds} (doneAt: epoch ms when every
 * sequence number 0..readings-1 was seen; null until then).
 */
import { createServer } from 'node:http';

const readings = Number(process.argv[2]);
const baseMs = Number(process.argv[3]);
if (!Number.isInteger(readings) || readings <= 0 || !Number.isFinite(baseMs)) {
  process.stderr.write('usage: min-sink.js <readings> <base-ms>\n');
  process.exit(64);
}

const seen = new Uint8Array(readings);
const state = { distinct: 0, points: 0, requests: 0, outOfRange: 0, firstAt: null, doneAt: null };

function mark(seq) {
  state.points++;
  if (!Number.isInteger(seq) || seq < 0 || seq >= readings) {
    state.outOfRange++;
    return;
  }
  if (seen[seq] === 0) {
    seen[seq] = 1;
    if (++state.distinct === readings) state.doneAt = Date.now();
  }
}

function jsonLines(text) {
  let at = 0;
  while (at < text.length) {
    let nl = text.indexOf('\n', at);
    if (nl === -1) nl = text.length;
    if (nl > at) mark(JSON.parse(text.slice(at, nl)).seq);
    at = nl + 1;
  }
}

function graphql(text) {
  const input = JSON.parse(text).variables.input;
  for (const p of input.dataPoints) mark(Date.parse(p.timestamp) - baseMs);
  return { data: { storeSensorMeasureData: { clientMutationId: input.clientMutationId } } };
}

function reply(res, status, body) {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
  res.end(bytes);
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/_sink') {
    const u = process.cpuUsage();
    return reply(res, 200, { ...state, cpuSeconds: (u.user + u.system) / 1e6 });
  }
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    state.requests++;
    state.firstAt ??= Date.now();
    const text = Buffer.concat(parts).toString('utf8');
    try {
      if (req.url.endsWith('/graphql')) return reply(res, 200, graphql(text));
      if (req.url.endsWith('/sensors')) {
        const body = JSON.parse(text);
        return reply(res, 201, { id: `sink-${body.mappingId ?? body.name}`, name: body.name, mappingId: body.mappingId ?? null, ingest: 'timeseries' });
      }
      jsonLines(text);
      return reply(res, 200, {});
    } catch (err) {
      return reply(res, 400, { error: 'bad_request', message: String(err?.message ?? err) });
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
