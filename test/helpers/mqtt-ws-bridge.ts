/**
 * MQTT over WebSockets (ws:// and wss://) in front of a real Mosquitto's TCP listener, for the mqtt
 * source's ws/wss tests. Why: Debian's mosquitto 2.0.11 on this machine cannot open a
 * `protocol websockets` listener ("Unable to start any listening sockets"). This bridge is only
 * the framing: a WebSocket server (the `ws` package, over HTTP or HTTPS) that accepts the `mqtt`
 * subprotocol on `path` and pipes each connection's binary messages to a fresh TCP connection to
 * the broker and back, closing either side when the other closes. Every MQTT packet, session and
 * acknowledgement is the real broker's.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface MqttWsBridgeOptions {
  /** Serve wss:// with this certificate and key (files, e.g. from makeCertificates). */
  tls?: { cert: string; key: string };
  /** [/mqtt] the HTTP path the WebSocket upgrade must ask for. */
  path?: string;
}

export interface MqttWsBridge {
  port: number;
  /** ws:// or wss://127.0.0.1:port/path */
  url: string;
  /** WebSocket connections accepted so far (each with its own TCP connection to the broker). */
  connections: number;
  /** Connections open now. */
  readonly open: number;
  stop(): Promise<void>;
}

export async function startMqttWsBridge(brokerPort: number, options: MqttWsBridgeOptions = {}): Promise<MqttWsBridge> {
  const path = options.path ?? '/mqtt';
  const server: Server = options.tls === undefined ? createHttpServer() : createHttpsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) });
  const wss = new WebSocketServer({ server, path, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false) });
  const pairs = new Set<{ ws: WebSocket; tcp: Socket }>();
  const bridge: MqttWsBridge = {
    port: 0,
    url: '',
    connections: 0,
    get open() {
      return pairs.size;
    },
    stop: async () => {
      for (const { ws, tcp } of pairs) {
        ws.terminate();
        tcp.destroy();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  wss.on('connection', (ws) => {
    // A client that did not ask for the mqtt subprotocol is refused (1002: protocol error).
    if (ws.protocol !== 'mqtt') return void ws.close(1002, 'the mqtt subprotocol is required');
    bridge.connections++;
    const tcp = connect(brokerPort, '127.0.0.1'); // writes before the connect are queued by net
    const pair = { ws, tcp };
    pairs.add(pair);
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return void ws.close(1003, 'MQTT over WebSockets is binary');
      // Backpressure: stop reading the WebSocket while the broker's socket is full.
      if (!tcp.write(data) && !ws.isPaused) {
        ws.pause();
        tcp.once('drain', () => ws.resume());
      }
    });
    tcp.on('data', (data) => {
      tcp.pause();
      ws.send(data, { binary: true }, () => tcp.resume());
    });
    const closeBoth = () => {
      pairs.delete(pair);
      tcp.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    ws.on('close', closeBoth);
    ws.on('error', closeBoth);
    tcp.on('close', closeBoth);
    tcp.on('error', closeBoth);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  bridge.port = (server.address() as { port: number }).port;
  bridge.url = `${options.tls === undefined ? 'ws' : 'wss'}://127.0.0.1:${bridge.port}${path}`;
  return bridge;
}
