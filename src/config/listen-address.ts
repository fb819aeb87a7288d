/**
 * `listen` addresses of socket sources: `host:port`, `[v6]:port`, `:port` or a bare port
 * (number or text). The host defaults to 127.0.0.1: listening on other interfaces is a
 * deliberate choice the config has to spell out. Port 0 asks the system for a free port (the
 * bound address is logged).
 */
export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN_HOST = '127.0.0.1';

export function parseListen(value: string | number): ListenAddress | string {
  const text = String(value).trim();
  let host = DEFAULT_LISTEN_HOST;
  let port: string;
  let m: RegExpExecArray | null;
  if ((m = /^:?(\d+)$/.exec(text)) !== null) port = m[1]!;
  else if ((m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text)) !== null) [host, port] = [m[1]!, m[2]!];
  else if ((m = /^([^:\s[\]]+):(\d+)$/.exec(text)) !== null) [host, port] = [m[1]!, m[2]!];
  else return `expected host:port (e.g. 127.0.0.1:8094, [::1]:8094 or :8094), found "${text}"`;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) return `port ${port} is outside 0..65535`;
  return { host, port: n };
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
