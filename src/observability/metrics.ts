/**
 * The agent's Prometheus metrics, read through AgentView at scrape time (prom-client collect()
 * callbacks): nothing is pushed into them, so they cannot drift from the outbox's own counters,
 * and a scrape costs a few cheap reads. Names follow Prometheus conventions: one prefix,
 * `_total` on counters, units in the name (`_seconds`, `_bytes`).
 *
 * A view method that throws leaves its metric as it was (a counter never drops to 0, which
 * Prometheus would read as a restart) and is logged once per distinct error, so one broken
 * read never fails the whole scrape.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { AgentView } from '../daemon/agent-view.js';
import type { DeliveryState } from '../hub/delivery-state.js';
import { readiness } from './readiness.js';

export const METRIC_PREFIX = 'senseye_agent_';

export const DELIVERY_STATES = ['idle', 'flowing', 'throttled', 'retrying', 'paused'] as const satisfies ReadonlyArray<DeliveryState['state']>;
// Fails to compile when DeliveryState gains a state this list does not name.
const everyStateListed: Exclude<DeliveryState['state'], (typeof DELIVERY_STATES)[number]> extends never ? true : never = true;
void everyStateListed;

/** Longest pause reason kept as a label value (the reason is the hub's text: keep series bounded). */
const MAX_REASON_LABEL = 120;

export interface MetricsOptions {
  view: AgentView;
  /** A fresh Registry by default; pass one to add the agent's metrics to it. */
  registry?: Registry;
  /** Shown as senseye_agent_info{version}. */
  version?: string;
  /** process_* and nodejs_* metrics from prom-client (default true). */
  processMetrics?: boolean;
  logger?: Logger;
  now?: () => number;
}

type Labels<L extends string> = Partial<Record<L, string>>;
type Sample<L extends string> = [Labels<L>, number];

export function createMetrics(options: MetricsOptions): Registry {
  const { view } = options;
  const registry = options.registry ?? new Registry();
  const now = options.now ?? Date.now;
  const log = options.logger?.child({ component: 'metrics' });
  const lastError = new Map<string, string>();

  /** The samples, or undefined when the read failed (logged once per distinct message). */
  const read = <L extends string>(name: string, samples: () => Array<Sample<L>>): Array<Sample<L>> | undefined => {
    try {
      const out = samples().filter(([, v]) => Number.isFinite(v));
      lastError.delete(name);
      return out;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (lastError.get(name) !== message) {
        lastError.set(name, message);
        log?.warn({ event: 'metric_read_failed', metric: name, err: message }, `metric ${name} could not be read; keeping its last value`);
      }
      return undefined;
    }
  };

  const counter = <L extends string>(suffix: string, help: string, labelNames: readonly L[], samples: () => Array<Sample<L>>) => {
    const name = METRIC_PREFIX + suffix;
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        const values = read(name, samples);
        if (values === undefined) return;
        this.reset();
        for (const [labels, v] of values) if (v >= 0) this.inc(labels, v);
      },
    });
  };

  const gauge = <L extends string>(suffix: string, help: string, labelNames: readonly L[], samples: () => Array<Sample<L>>) => {
    const name = METRIC_PREFIX + suffix;
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        const values = read(name, samples);
        if (values === undefined) return;
        this.reset();
        for (const [labels, v] of values) this.set(labels, v);
      },
    });
  };

  const one = (v: number): Array<Sample<never>> => [[{}, v]];
  const bool = (b: boolean) => (b ? 1 : 0);

  gauge('info', 'The running agent; always 1', ['version'], () => [[{ version: options.version ?? 'dev' }, 1]]);
  gauge('ready', 'Whether /readyz answers 200: outbox writable, token usable, delivery not paused nor failing past hub.unready_after (1 or 0)', [], () => one(bool(readiness(view).ready)));

  // Sources.
  counter('readings_received_total', 'Readings read from each source and committed to the outbox', ['source'], () =>
    view.sourceCounters().map((s) => [{ source: s.source }, s.received]),
  );
  counter('readings_invalid_total', 'Input lines or records of each source that did not parse or validate (kept as dead letters)', ['source'], () =>
    view.sourceCounters().map((s) => [{ source: s.source }, s.invalid]),
  );

  gauge('source_up', 'Whether each source runs (1) or is down (0): failed and waiting to restart, restarted and not yet stable, or without the broker connection it reads through', ['source'], () =>
    view.sourceHealth().map(({ source, health }) => [{ source }, bool(health.state === 'running')]),
  );
  counter('source_restarts_total', 'Times each source was restarted after an unexpected failure, since start', ['source'], () =>
    view.sourceHealth().map(({ source, health }) => [{ source }, health.restarts]),
  );
  counter('udp_datagrams_dropped_total', 'Datagrams of each UDP source lost: where="receive_buffer" dropped by the kernel (the socket\'s receive buffer was full), where="backlog" dropped by the agent (max_pending_bytes)', ['source', 'where'], () =>
    (view.sourceDrops?.() ?? []).filter((d) => d.mqtt !== true).map((d) => [{ source: d.source, where: d.where }, d.count]),
  );
  counter('mqtt_qos0_messages_dropped_total', 'QoS 0 messages of each MQTT source dropped because the outbox was not taking more and max_pending_messages were held', ['source'], () =>
    (view.sourceDrops?.() ?? []).filter((d) => d.mqtt === true).map((d) => [{ source: d.source }, d.count]),
  );
  // File descriptors of the file and spool sources (src/sources/descriptors.ts).
  const openFiles = () => view.openFiles?.().sources ?? [];
  gauge('source_open_files', 'Files each file or spool source holds open now (at most its max_open_files)', ['source'], () =>
    openFiles().map((s) => [{ source: s.source }, s.open]),
  );
  gauge('source_files_waiting', 'Files that match a file source but wait for a free descriptor slot (read in turn)', ['source'], () =>
    openFiles().map((s) => [{ source: s.source }, s.waiting]),
  );
  counter('descriptors_exhausted_total', 'Times opening or listing files met EMFILE/ENFILE (out of descriptors): the file was left for later, not failed', ['source'], () =>
    openFiles().map((s) => [{ source: s.source }, s.exhausted]),
  );
  gauge('file_descriptor_budget', 'Descriptors all file and spool sources together may hold: the open-files limit minus a reserve for the outbox and the hub', [], () =>
    (view.openFiles ? one(Math.min(view.openFiles().budget, Number.MAX_SAFE_INTEGER)) : []),
  );

  // Outbox.
  gauge('outbox_readings', 'Readings waiting in the outbox', [], () => one(view.outboxCounts().depth));
  gauge('outbox_spectra', 'Spectra waiting in the outbox', [], () => one(view.outboxCounts().spectra.depth));
  gauge('outbox_size_bytes', 'Bytes of the outbox database in use', [], () => one(view.outboxBytes()));
  gauge('outbox_oldest_reading_age_seconds', 'Age of the oldest waiting reading by its reading time (0 when none waits)', [], () => {
    const ts = view.oldestWaitingTs();
    return one(ts === null ? 0 : Math.max(0, (now() - ts) / 1000));
  });
  gauge('outbox_blocked', 'Whether the outbox refuses new readings (1: full, its writes fail, or a storage fault) or accepts them (0)', [], () => one(bool(view.outboxBlocked() !== null)));
  gauge('storage_fault', 'Present with value 1 while a storage fault lasts, by kind: disk_full, io_error, state_dir_missing, outbox_replaced', ['reason'], () =>
    view.storageFaultsActive().map((f) => [{ reason: f.kind }, 1]),
  );
  counter('outbox_write_failures_total', 'Outbox writes that failed since start (disk full, I/O error), by operation: commit (readings), ack (deleting delivered ones), state (bookkeeping)', ['operation'], () => {
    const f = view.writeFailures();
    return [
      [{ operation: 'commit' }, f.commit],
      [{ operation: 'ack' }, f.ack],
      [{ operation: 'state' }, f.state],
    ];
  });
  counter('readings_appended_total', 'Readings committed to the outbox', [], () => one(view.outboxCounts().appended));
  counter('readings_dropped_total', 'Readings deleted unsent to make room (outbox.when_full: drop_oldest)', [], () => one(view.outboxCounts().dropped));

  // Delivery.
  counter('readings_delivered_total', 'Readings the hub accepted', [], () => one(view.outboxCounts().delivered));
  counter('spectra_delivered_total', 'Spectra the hub accepted', [], () => one(view.outboxCounts().spectra.delivered));
  counter('readings_rejected_total', 'Readings the hub refused for good (kept as dead letters, stage hub)', [], () => one(view.outboxCounts().rejected));
  counter('readings_expired_total', 'Readings given up on unsent after hub.retry.max_age (kept as dead letters, stage expired)', [], () => one(view.outboxCounts().expired));
  counter('spectra_rejected_total', 'Spectra the hub refused for good (kept as dead letters)', [], () => one(view.outboxCounts().spectra.rejected));
  counter('dead_letters_total', 'Records moved to dead letters, by stage: parse (invalid input), hub (refused by the hub) or expired (hub.retry.max_age)', ['stage'], () => {
    const c = view.outboxCounts();
    return [
      [{ stage: 'parse' }, c.invalid],
      [{ stage: 'hub' }, c.rejected + c.spectra.rejected],
      [{ stage: 'expired' }, c.expired],
    ];
  });
  counter('hub_requests_total', 'Requests to the hub since start, every endpoint, by outcome (HTTP status, or network / timeout / tls / oversized)', ['status'], () =>
    [...view.hubRequests()].map(([status, n]) => [{ status }, n]),
  );
  counter('hub_unexpected_answers_total', 'Hub answers outside the contract (e.g. a 200 without data, a 404 page, an oversized body): retried, never taken as success', ['endpoint', 'status'], () =>
    [...view.hubUnexpectedAnswers()].map(([key, n]) => {
      const [endpoint = '?', status = '?'] = key.split(' ');
      return [{ endpoint, status }, n];
    }),
  );
  counter('hub_throttled_total', 'Times the hub asked the agent to slow down (429 / 503) since start', [], () => one(view.deliveryStats().throttled));
  counter('hub_retries_total', 'Delivery rounds that failed and were scheduled again since start', [], () => one(view.deliveryStats().retried));
  gauge('delivery_state', 'Current delivery state: 1 for the state the shipper is in, 0 for the others', ['state'], () => {
    const current = view.delivery().state;
    return DELIVERY_STATES.map((state) => [{ state }, bool(state === current)]);
  });
  gauge('delivery_paused', 'Present with value 1 while delivery is paused, labelled with the reason (e.g. the token was refused)', ['reason'], () => {
    const d = view.delivery();
    return d.state === 'paused' ? [[{ reason: reasonLabel(d.reason) }, 1]] : [];
  });
  gauge('delivery_retry_delay_seconds', 'Current wait before the next delivery attempt (0 while flowing)', [], () => one(view.retryDelayMs() / 1000));
  gauge('sensors_waiting', 'Sensors whose readings wait because the hub refused to create them', [], () => one(view.waitingSensors().size));

  // Token.
  // Labelled so it can be absent (an unlabelled gauge always shows a value, and 0 would read as "expired in 1970").
  gauge('token_expiry_timestamp_seconds', 'When the machine token expires (Unix time), by token fingerprint; absent when it does not expire or is opaque', ['fingerprint'], () => {
    const token = view.token();
    return token?.expiresAt == null ? [] : [[{ fingerprint: token.fingerprint }, token.expiresAt.getTime() / 1000]];
  });
  gauge('token_usable', 'Whether the machine token can be used (1) or is missing, expired or lacks Internal Hub Write (0)', [], () => one(bool(view.tokenProblem() === null)));

  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** One line, bounded: the reason is free text from the hub. */
export function reasonLabel(reason: string): string {
  const flat = reason.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_REASON_LABEL ? `${flat.slice(0, MAX_REASON_LABEL - 1)}…` : flat;
}
