/** Source type → constructor. The daemon builds its sources only through here. */
import type { Logger } from 'pino';
import type { SourceConfig } from '../config/sources-schema.js';
import type { FileCheckpoint } from '../outbox/types.js';
import { FileSource } from './file/file-source.js';
import type { Source } from './source.js';

export interface SourceContext {
  lane: number;
  /** Positions committed by earlier runs for this source. */
  checkpoints: FileCheckpoint[];
  logger: Logger;
}

export function createSource(config: SourceConfig, ctx: SourceContext): Source {
  switch (config.type) {
    case 'file':
      return new FileSource({ config, lane: ctx.lane, checkpoints: ctx.checkpoints, logger: ctx.logger });
  }
}
