/**
 * What `config check` learns from an mqtt source's broker: it connects as the agent would (same
 * URL, credentials, TLS) but under its own client id and a clean session, so a running agent's
 * session is neither taken over nor changed; subscribes to the source's topics at QoS 0 (the
 * grants show an ACL's refusals) and listens for a moment to tell whether anything is published.
 */
import type { IConnackPacket, ISubscriptionGrant } from 'mqtt';
import type { MqttSourceConfig } from '../../config/mqtt-schema.js';
import { clientOptionsOf, safeUrl } from './client-options.js';
import { loadMqtt } from './mqtt-package.js';

export interface BrokerFindings {
  ok: boolean;
  lines: string[];
}

export async function probeBroker(config: MqttSourceConfig, listenMs = 1000, timeoutMs = Math.min(config.connect_timeout, 10_000)): Promise<BrokerFindings> {
  const url = safeUrl(config.url);
  let options;
  try {
    options = clientOptionsOf(config);
  } catch (err) {
    return { ok: false, lines: [(err as Error).message] };
  }
  const { connect } = await loadMqtt();
  const client = connect(config.url, {
    ...options,
    clientId: `${config.client_id ?? 'senseye-agent'}-check-${process.pid}`,
    clean: true,
    connectTimeout: timeoutMs,
    properties: config.protocol_version === 5 ? { sessionExpiryInterval: 0 } : undefined,
  });
  try {
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      client.once('connect', (c) => (clearTimeout(timer), resolve(c)));
      client.once('error', (err) => (clearTimeout(timer), reject(err)));
      client.once('close', () => (clearTimeout(timer), reject(new Error('connection closed (refused, or not an MQTT broker there)'))));
    });
    const lines: string[] = [];
    const p = connack.properties;
    const limits = p === undefined ? '' : [p.receiveMaximum === undefined ? '' : `receive maximum ${p.receiveMaximum}`, p.maximumQoS === undefined ? '' : `maximum QoS ${p.maximumQoS}`].filter((x) => x !== '').join(', ');
    lines.push(`connected to ${url} (MQTT ${config.protocol_version === 5 ? '5' : '3.1.1'}${limits === '' ? '' : `; ${limits}`})`);
    const topics = config.topics ?? [`spBv1.0/${config.sparkplug.group}/#`];
    const seen = new Map<string, number>();
    client.on('message', (topic) => seen.set(topic, (seen.get(topic) ?? 0) + 1));
    const granted: ISubscriptionGrant[] = await client.subscribeAsync(topics, { qos: 0 });
    const refused = granted.filter((g) => g.qos >= 128).map((g) => g.topic);
    if (refused.length > 0) return { ok: false, lines: [...lines, `the broker refused the subscription to ${refused.join(', ')} (its ACL?)`] };
    await new Promise((resolve) => setTimeout(resolve, listenMs));
    const messages = [...seen.values()].reduce((a, b) => a + b, 0);
    const examples = [...seen.keys()].slice(0, 3).join(', ');
    lines.push(
      messages === 0
        ? `subscribed to ${topics.join(', ')}; nothing published there in ${listenMs} ms`
        : `subscribed to ${topics.join(', ')}; ${messages} messages on ${seen.size} topics in ${listenMs} ms (e.g. ${examples})`,
    );
    return { ok: true, lines };
  } catch (err) {
    return { ok: false, lines: [`cannot connect to ${url}: ${(err as Error).message}`] };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}
