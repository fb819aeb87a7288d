/**
 * Sparkplug B messages → readings. Topics: spBv1.0/<group>/<type>/<edge node>[/<device>].
 * - NBIRTH / DBIRTH define the metric names and aliases of an edge node / device (and carry
 *   current values, delivered too); an NBIRTH forgets the node's devices until their DBIRTH.
 * - NDATA / DDATA name each metric, or give its alias from the birth.
 * - NDEATH / DDEATH are logged; the node / device waits for a new birth.
 * - Data (or a DBIRTH) from a node whose NBIRTH the agent has not seen, or an alias it does not
 *   know, cannot be read without guessing: the message is dead-lettered with that reason and the
 *   node is asked to rebirth (NCMD `Node Control/Rebirth` = true, at most once per
 *   `sparkplug.rebirth_interval`), as the specification asks of a host application. It is not held
 *   back for the birth: a rebirth sends current values, not the ones missed, so holding would only
 *   delay the acknowledgement (and stall the session) for values the birth does not replace.
 * Sensor: `<group>/<edge node>` or `<group>/<edge node>/<device>`; measure: the metric name;
 * time: the metric's timestamp, else the payload's, else the arrival (all ms since the epoch).
 * NCMD, DCMD and STATE messages carry commands, not readings: taken and acknowledged, nothing stored.
 */
import type { Logger } from 'pino';
import type { MqttSourceConfig } from '../../../config/mqtt-schema.js';
import type { LineParser, ParserOptions } from '../../../parse/parser.js';
import { createJsonlParser } from '../../../parse/jsonl.js';
import type { MessageReader, ReadMessage } from '../message-reader.js';
import { loadSparkplugCodec, type SparkplugCodec, type SparkplugMetric } from './codec.js';

const NAMESPACE = 'spBv1.0';

interface Born {
  /** alias → name and datatype, from the birth. */
  aliases: Map<number, { name: string; datatype: number | undefined }>;
  /** name → datatype, for data that names its metrics without a datatype. */
  datatypes: Map<string, number | undefined>;
}

export class SparkplugReader implements MessageReader {
  private readonly parser: LineParser;
  /** Born edge nodes and devices: `group/node` and `group/node/device`. */
  private readonly born = new Map<string, Born>();
  private readonly lastRebirth = new Map<string, number>();
  private codec: SparkplugCodec | null = null;
  /** Counts since start, for logs and tests. */
  rebirthsRequested = 0;

  constructor(
    private readonly config: MqttSourceConfig,
    options: ParserOptions,
    private readonly log: Logger,
    private readonly publish: (topic: string, payload: Buffer) => void,
  ) {
    // Sparkplug times are epoch milliseconds, whatever epoch_unit says.
    this.parser = createJsonlParser({ ...options, epochUnit: 'ms', timezone: undefined, sensor: undefined, measure: undefined }, null);
  }

  async ready(): Promise<void> {
    this.codec = await loadSparkplugCodec();
  }

  private get loaded(): SparkplugCodec {
    if (this.codec === null) throw new Error('SparkplugReader: read before ready()');
    return this.codec;
  }

  read(topic: string, payload: Buffer, arrivedAt: number): ReadMessage {
    const codec = this.loaded;
    const levels = topic.split('/');
    if (levels[0] !== NAMESPACE) return { ok: false, reason: `not a Sparkplug B topic (${NAMESPACE}/<group>/<type>/<edge node>[/<device>])` };
    if (levels[1] === 'STATE' || levels.length < 4 || levels.length > 5) {
      return levels[1] === 'STATE' ? this.nothing() : { ok: false, reason: `not a Sparkplug B topic (${NAMESPACE}/<group>/<type>/<edge node>[/<device>])` };
    }
    const [, group, type, node, device] = levels as [string, string, string, string, string | undefined];
    const nodeKey = `${group}/${node}`;
    const key = device === undefined ? nodeKey : `${nodeKey}/${device}`;
    if (type === 'NCMD' || type === 'DCMD') return this.nothing();
    if (type === 'NDEATH' || type === 'DDEATH') {
      this.forget(key, type === 'NDEATH');
      this.log.info({ event: 'sparkplug_death', group, edge_node: node, device }, `Sparkplug ${type} from ${key}`);
      return this.nothing();
    }
    const decoded = codec.decode(payload);
    if (!decoded.ok) return decoded;
    const { metrics } = decoded.payload;
    const payloadTs = codec.uint64(decoded.payload.timestamp) ?? arrivedAt;
    if (type === 'NBIRTH' || type === 'DBIRTH') {
      if (type === 'DBIRTH' && !this.born.has(nodeKey)) return this.beforeBirth(group, node, `DBIRTH from ${key} before its node's NBIRTH`);
      if (type === 'NBIRTH') this.forget(nodeKey, true);
      const born: Born = { aliases: new Map(), datatypes: new Map() };
      for (const m of metrics) {
        if (typeof m.name !== 'string' || m.name.length === 0) continue;
        const datatype = m.datatype ?? undefined;
        born.datatypes.set(m.name, datatype);
        const alias = this.loaded.uint64(m.alias);
        if (alias !== null) born.aliases.set(alias, { name: m.name, datatype });
      }
      this.born.set(key, born);
      this.log.info({ event: 'sparkplug_birth', group, edge_node: node, device, metrics: metrics.length }, `Sparkplug ${type} from ${key}: ${metrics.length} metrics`);
      return this.readings(key, metrics, born, payloadTs);
    }
    if (type !== 'NDATA' && type !== 'DDATA') return { ok: false, reason: `unknown Sparkplug message type ${type}` };
    const born = this.born.get(key);
    if (born === undefined || !this.born.has(nodeKey)) return this.beforeBirth(group, node, `${type} from ${key} before its ${device === undefined ? 'NBIRTH' : 'DBIRTH'}: its metric names and aliases are not known`);
    const read = this.readings(key, metrics, born, payloadTs);
    if (read.ok && (read.rejected ?? []).some((r) => r.reason.startsWith('unknown alias'))) this.requestRebirth(group, node);
    return read;
  }

  private readings(sensor: string, metrics: readonly SparkplugMetric[], born: Born, payloadTs: number): ReadMessage {
    const lines: string[] = [];
    const rejected: Array<{ raw: string; reason: string }> = [];
    for (const m of metrics) {
      let name = typeof m.name === 'string' && m.name.length > 0 ? m.name : undefined;
      let datatype = m.datatype ?? undefined;
      const alias = this.loaded.uint64(m.alias);
      if (name === undefined && alias !== null) {
        const known = born.aliases.get(alias);
        if (known === undefined) {
          rejected.push({ raw: `${sensor} alias ${alias}`, reason: `unknown alias ${alias}: not in the birth of ${sensor} (rebirth requested)` });
          continue;
        }
        name = known.name;
        datatype ??= known.datatype;
      }
      if (name === undefined) {
        rejected.push({ raw: `${sensor} metric without name or alias`, reason: 'a metric without name or alias' });
        continue;
      }
      datatype ??= born.datatypes.get(name);
      const value = this.loaded.value(m, datatype);
      if (!value.ok) {
        rejected.push({ raw: `${sensor} ${name}`, reason: value.reason });
        continue;
      }
      const ts = this.loaded.uint64(m.timestamp) ?? payloadTs;
      lines.push(JSON.stringify({ sensor, measure: name, ts, value: value.value }));
    }
    return { ok: true, parser: this.parser, lines, whole: false, rejected: rejected.length > 0 ? rejected : undefined };
  }

  private beforeBirth(group: string, node: string, what: string): ReadMessage {
    const asked = this.requestRebirth(group, node);
    return { ok: false, reason: `${what}; ${asked ? 'rebirth requested' : this.config.sparkplug.rebirth ? 'rebirth requested recently' : 'rebirth requests are off'} (NCMD Node Control/Rebirth)` };
  }

  /** Publishes the rebirth request, at most once per rebirth_interval per node; true when sent. */
  private requestRebirth(group: string, node: string): boolean {
    if (!this.config.sparkplug.rebirth) return false;
    const nodeKey = `${group}/${node}`;
    const now = Date.now();
    const last = this.lastRebirth.get(nodeKey);
    if (last !== undefined && now - last < this.config.sparkplug.rebirth_interval) return false;
    this.lastRebirth.set(nodeKey, now);
    this.rebirthsRequested++;
    const topic = `${NAMESPACE}/${group}/NCMD/${node}`;
    this.log.info({ event: 'sparkplug_rebirth_requested', group, edge_node: node, topic }, `asked ${nodeKey} to rebirth`);
    this.publish(topic, this.loaded.rebirthRequest(now));
    return true;
  }

  /** A death: the node (and its devices) or the device must be born again. */
  private forget(key: string, withDevices: boolean): void {
    this.born.delete(key);
    if (withDevices) for (const k of [...this.born.keys()]) if (k.startsWith(`${key}/`)) this.born.delete(k);
  }

  private nothing(): ReadMessage {
    return { ok: true, parser: this.parser, lines: [], whole: false };
  }
}
