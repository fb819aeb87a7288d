/**
 * The `mqtt` package, loaded with the first MQTT source or broker check, not with the agent. It
 * is CommonJS: Node's import() gives its exports as named ones, while in the bundle it is a chunk
 * of its own (scripts/bundle.js) whose only export is `default` (module.exports); both are read.
 */
type MqttPackage = typeof import('mqtt');

export async function loadMqtt(): Promise<MqttPackage> {
  const mod = (await import('mqtt')) as MqttPackage & { default?: MqttPackage };
  return typeof mod.connect === 'function' ? mod : mod.default!;
}
