/** Source type → constructor. The daemon builds its sources only through here. */
import type { Logger } from 'pino';
import type { SourceConfig } from '../config/sources-schema.js';
import type { FileCheckpoint } from '../outbox/types.js';
import { FileSource } from './file/file-source.js';
import { MqttSource } from './mqtt/mqtt-source.js';
import { parserOptionsOf } from './parser-options.js';
import { createTcpSource } from './socket/tcp-source.js';
import { UdpSource } from './socket/udp-source.js';
import { createUnixSource } from './socket/unix-source.js';
import type { Source } from './source.js';
import { SpoolSource } from './spool/spool-source.js';

export interface SourceContext {
  lane: number;
  /** Positions committed by earlier runs for this source. */
  checkpoints: FileCheckpoint[];
  /**
   * Deletes the committed position of a file the source is done with for good (a spool file,
   * once deleted or moved to done/), so that the outbox does not grow with every file taken.
   */
  forgetCheckpoint?: ((fileKey: string) => void) | undefined;
  /**
   * The committed position of one file, looked up when the file is opened (a spool source): what
   * was committed earlier in this run counts too, and no position is held in memory meanwhile.
   */
  checkpointOf?: ((fileKey: string) => FileCheckpoint | undefined) | undefined;
  logger: Logger;
  /** Hub sensor ids → local names (`sensors.<name>.sensor_id`), for records that give a sensorId. */
  sensorIds?: ReadonlyMap<string, string> | undefined;
}

export function createSource(config: SourceConfig, ctx: SourceContext): Source {
  const parserOptions = parserOptionsOf(config, ctx.sensorIds);
  const common = { lane: ctx.lane, logger: ctx.logger, parserOptions };
  switch (config.type) {
    case 'file':
      return new FileSource({ ...common, config, checkpoints: ctx.checkpoints });
    case 'spool':
      return new SpoolSource({ ...common, config, checkpointOf: ctx.checkpointOf ?? lookupIn(ctx.checkpoints), forgetCheckpoint: ctx.forgetCheckpoint });
    case 'tcp':
      return createTcpSource(config, common);
    case 'udp':
      return new UdpSource(config, common);
    case 'unix':
      return createUnixSource(config, common);
    case 'mqtt':
      return new MqttSource(config, { ...common, checkpoints: ctx.checkpoints });
  }
}

/** A lookup by file key in positions loaded up front (without an outbox at hand: backfill, dry runs). */
function lookupIn(checkpoints: readonly FileCheckpoint[]): (fileKey: string) => FileCheckpoint | undefined {
  const byKey = new Map(checkpoints.map((c) => [c.fileKey, c]));
  return (fileKey) => byKey.get(fileKey);
}
