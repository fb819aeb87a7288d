/**
 * Knows which hub sensor a local sensor name maps to. In `sensor_id` addressing:
 * configured `sensors.<name>.sensor_id` first, then the id remembered in the outbox database,
 * else the sensor is created once (POST /v1/hub/sensors, mappingId = the local name); a 409
 * means it exists already and its id is taken from the answer. Ids are stored, so a restart
 * never creates a sensor twice. In `mapping_id` addressing nothing is created: the hub
 * auto-provisions sensors addressed by mappingId.
 */
import type { Logger } from 'pino';
import type { Outbox } from '../outbox/outbox.js';
import type { HubClient } from './client.js';
import type { SensorAddress } from './encode.js';
import { retryable, type HubFailure } from './outcome.js';

export type AddressOutcome = { kind: 'ok'; address: SensorAddress } | { kind: 'failed'; failure: HubFailure };

export interface SensorDirectoryOptions {
  addressing: 'sensor_id' | 'mapping_id';
  overrides: Record<string, { sensor_id?: string | undefined; description?: string | undefined }>;
  outbox: Outbox;
  client: HubClient;
  logger: Logger;
}

export class SensorDirectory {
  private readonly known = new Map<string, string>();
  private readonly creating = new Map<string, Promise<AddressOutcome>>();

  constructor(private readonly opts: SensorDirectoryOptions) {}

  /** The configured or remembered id, without asking the hub; null when the sensor must be created. */
  knownId(name: string): string | null {
    const configured = this.opts.overrides[name]?.sensor_id;
    if (configured !== undefined) return configured;
    const cached = this.known.get(name);
    if (cached !== undefined) return cached;
    const stored = this.opts.outbox.hubSensorId(name);
    if (stored !== null) this.known.set(name, stored);
    return stored;
  }

  async address(name: string, ingest: 'timeseries' | 'frequency', signal?: AbortSignal): Promise<AddressOutcome> {
    if (this.opts.addressing === 'mapping_id') return { kind: 'ok', address: { mappingId: name } };
    const id = this.knownId(name);
    if (id !== null) return { kind: 'ok', address: { sensorId: id } };
    let pending = this.creating.get(name);
    if (pending === undefined) {
      pending = this.create(name, ingest, signal).finally(() => this.creating.delete(name));
      this.creating.set(name, pending);
    }
    return pending;
  }

  private async create(name: string, ingest: 'timeseries' | 'frequency', signal?: AbortSignal): Promise<AddressOutcome> {
    const description = this.opts.overrides[name]?.description;
    const outcome = await this.opts.client.createSensor({ name, mappingId: name, ingest, description }, signal);
    if (outcome.kind === 'ok' || outcome.kind === 'conflict') {
      const id = (outcome.body as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string' || id.length === 0) {
        return { kind: 'failed', failure: retryable('unexpected', outcome.status, `sensor create answered ${outcome.status} without an id`) };
      }
      this.opts.outbox.rememberHubSensorId(name, id, ingest);
      this.known.set(name, id);
      this.opts.logger.info(
        { event: outcome.kind === 'ok' ? 'sensor_created' : 'sensor_exists', sensor: name, sensor_id: id },
        outcome.kind === 'ok' ? 'sensor created in the hub' : 'sensor already existed in the hub; using its id',
      );
      return { kind: 'ok', address: { sensorId: id } };
    }
    return { kind: 'failed', failure: outcome };
  }
}
