import type { Logger } from 'pino';
import type { MqttSourceConfig } from '../../../config/mqtt-schema.js';
import type { ParserOptions } from '../../../parse/parser.js';
import type { MessageReader, ReadMessage } from '../message-reader.js';
export class SparkplugReader implements MessageReader {
  constructor(_c: MqttSourceConfig, _o: ParserOptions, _l: Logger, _p: (topic: string, payload: Buffer) => void) {}
  read(): ReadMessage {
    return { ok: false, reason: 'todo' };
  }
}
