/**
 * The Prometheus metrics built from AgentView: read at scrape time, named by convention, and
 * robust to a view method that throws. Parsed with a strict exposition-format parser.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics, METRIC_PREFIX, reasonLabel } from '../../src/observability/metrics.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/metrics-text.js';
import { captureLogger, fakeView } from '../helpers/ops-fake-view.js';

const NOW = Date.UTC(2026, 10, 27, 12);

async function scrape(view = fakeView(), options: { processMetrics?: boolean } = {}) {
  const { logger, lines } = captureLogger();
  const registry = createMetrics({ view, version: '1.2.3', logger, now: () => NOW, processMetrics: options.processMetrics ?? false });
  const text = async () => parsePrometheusText(await registry.metrics());
  return { view, registry, text, lines };
}

describe('metrics', () => {
  it('follows Prometheus naming: one prefix, _total counters, units in names, help on every family', async () => {
    const { text } = await scrape(fakeView(), { processMetrics: true });
    const families = [...(await text()).values()];
    const ours = families.filter((f) => f.name.startsWith(METRIC_PREFIX));
    expect(ours.length).toBeGreaterThanOrEqual(20);
    for (const f of families) {
      expect(f.name.startsWith(METRIC_PREFIX) || f.name.startsWith('process_') || f.name.startsWith('nodejs_'), f.name).toBe(true);
      expect(f.help, `${f.name} has no HELP`).not.toBe('');
    }
    // prom-client's own process metrics keep their names (nodejs_active_resources_total is a gauge).
    for (const f of ours) {
      if (f.type === 'counter') expect(f.name, 'counters end with _total').toMatch(/_total$/);
      else expect(f.name, `${f.type} ${f.name} must not end with _total`).not.toMatch(/_total$/);
      expect(f.name).not.toMatch(/_(ms|milliseconds|kb|mb|minutes)(_|$)/);
    }
    // Process metrics are there for the dashboard.
    const names = new Set(families.map((f) => f.name));
    for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) expect(names).toContain(n);
  });

  it('reports what the view says, per source and per hub status', async () => {
    const { text } = await scrape();
    const m = await text();
    const v = (name: string, labels?: Record<string, string>) => sampleValue(m, METRIC_PREFIX + name, labels);
    expect(v('info', { version: '1.2.3' })).toBe(1);
    expect(v('readings_received_total', { source: 'press-line' })).toBe(120);
    expect(v('readings_received_total', { source: 'pump-7' })).toBe(40);
    expect(v('readings_invalid_total', { source: 'press-line' })).toBe(3);
    expect(v('outbox_readings')).toBe(8);
    expect(v('outbox_size_bytes')).toBe(40960);
    expect(v('outbox_oldest_reading_age_seconds')).toBe(0);
    expect(v('outbox_blocked')).toBe(0);
    expect(v('readings_delivered_total')).toBe(150);
    expect(v('spectra_delivered_total')).toBe(4);
    expect(v('readings_rejected_total')).toBe(2);
    expect(v('dead_letters_total', { stage: 'parse' })).toBe(3);
    expect(v('dead_letters_total', { stage: 'hub' })).toBe(3);
    expect(v('hub_requests_total', { status: '200' })).toBe(30);
    expect(v('hub_requests_total', { status: '429' })).toBe(2);
    expect(v('hub_throttled_total')).toBe(2);
    expect(v('delivery_state', { state: 'flowing' })).toBe(1);
    expect(v('delivery_state', { state: 'paused' })).toBe(0);
    expect(v('delivery_retry_delay_seconds')).toBe(0);
    expect(v('token_expiry_timestamp_seconds', { fingerprint: 'abcd1234' })).toBe(Date.UTC(2027, 0, 1) / 1000);
    expect(v('token_usable')).toBe(1);
    expect(v('ready')).toBe(1);
    expect(m.get(`${METRIC_PREFIX}delivery_paused`)!.samples).toEqual([]);
  });

  it('reads at scrape time: a paused delivery, a full outbox and a backlog show on the next scrape', async () => {
    const { view, text } = await scrape();
    view.state.delivery = { state: 'paused', until: NOW + 30_000, reason: 'hub answered 401:\n  token revoked' };
    view.state.tokenProblem = 'the hub refused the token';
    view.state.blocked = 'outbox.max_bytes (1 GiB) reached';
    view.state.oldestTs = NOW - 90_000;
    view.state.retryDelayMs = 30_000;
    view.state.token = null;
    const m = await text();
    const v = (name: string, labels?: Record<string, string>) => sampleValue(m, METRIC_PREFIX + name, labels);
    expect(v('delivery_state', { state: 'paused' })).toBe(1);
    expect(v('delivery_state', { state: 'flowing' })).toBe(0);
    expect(m.get(`${METRIC_PREFIX}delivery_paused`)!.samples).toEqual([
      { name: `${METRIC_PREFIX}delivery_paused`, labels: { reason: 'hub answered 401: token revoked' }, value: 1 },
    ]);
    expect(v('outbox_blocked')).toBe(1);
    expect(v('outbox_oldest_reading_age_seconds')).toBe(90);
    expect(v('delivery_retry_delay_seconds')).toBe(30);
    expect(v('token_usable')).toBe(0);
    expect(v('ready')).toBe(0);
    expect(m.get(`${METRIC_PREFIX}token_expiry_timestamp_seconds`)!.samples).toEqual([]);
  });

  it('keeps a counter’s last value when its read fails (no false reset), logs it once, and still serves the rest', async () => {
    const { view, text, lines } = await scrape();
    await text();
    view.throwing.add('sourceCounters');
    view.state.counts = { ...view.state.counts, delivered: 151 };
    const first = await text();
    const second = await text();
    for (const m of [first, second]) {
      expect(sampleValue(m, `${METRIC_PREFIX}readings_received_total`, { source: 'press-line' })).toBe(120);
      expect(sampleValue(m, `${METRIC_PREFIX}readings_delivered_total`)).toBe(151);
    }
    const failures = lines.filter((l) => l.event === 'metric_read_failed');
    expect(failures.map((l) => l.metric).sort()).toEqual([`${METRIC_PREFIX}readings_invalid_total`, `${METRIC_PREFIX}readings_received_total`]);
  });

  it('keeps pause reasons short and on one line', () => {
    expect(reasonLabel('a\n b\tc')).toBe('a b c');
    const long = reasonLabel('x'.repeat(500));
    expect(long.length).toBe(120);
    expect(long.endsWith('…')).toBe(true);
  });

  it('gives separate registries separate metrics (two agents in one test process)', async () => {
    const a = await scrape();
    const b = await scrape();
    b.view.state.counts = { ...b.view.state.counts, delivered: 7 };
    const families: Array<Map<string, Family>> = [await a.text(), await b.text()];
    expect(families.map((m) => sampleValue(m, `${METRIC_PREFIX}readings_delivered_total`))).toEqual([150, 7]);
  });
});
