// io/socks-proxy.ts: fetching through a SOCKS5 proxy with remote name resolution ("socks5h",
// RFC 1928 with the destination sent as a DOMAINNAME, RFC 1929 username/password), so onion
// mirrors (`*.onion`) are reached through Tor and no destination name is ever resolved on this
// machine (docs/onion.md). Three pieces, all used by io/fetch.ts, which owns the errors:
//
// - readSocksProxyUrl: the strict reading of `socks5h://[USER:PASS@]HOST:PORT`, as a result (the
//   caller turns a problem into its typed error);
// - socksHttpAgent, socksHttpsAgent: Agents whose connections are SOCKS CONNECTs to the proxy with
//   the destination HOSTNAME (never looked up here); for https the tunnel is wrapped in TLS with
//   the destination as server name. Connections are kept alive per destination, like the direct
//   agents'.
// - describeSocksFailure: what went wrong at the proxy, in words, from the SOCKS library's error
//   (the proxy unreachable, authentication refused, or the proxy's CONNECT reply code).
//
// The proxy's own host is connected to as given: an IP address, or a name the system resolves
// (the proxy's name is configuration, not a destination).
import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { isIP, type Socket, type TcpNetConnectOpts } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';

/** Caps on the proxy URL, which comes from a command line or a configuration file. */
export const SOCKS_PROXY_LIMITS = {
  /** Longer than any proxy URL a person writes; a cap on what is echoed in messages too. */
  maxUrlChars: 1024,
  /** RFC 1929: the username and the password are each 1 to 255 bytes. */
  maxCredentialBytes: 255,
  /** The SOCKS handshake (connect to the proxy, authenticate, CONNECT reply) at most this long, within the fetch deadline. */
  handshakeTimeoutMs: 60_000,
} as const;

/** A parsed `socks5h://` proxy. `url` is the form to show: credentials are never echoed. */
export interface SocksProxy {
  url: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
}

export type SocksProxyReading = { ok: true; proxy: SocksProxy } | { ok: false; problem: string; hint?: string };

const EXPECTED = 'expected socks5h://HOST:PORT (or socks5h://USER:PASSWORD@HOST:PORT), e.g. socks5h://127.0.0.1:9050 for Tor';

/** Reads a proxy URL strictly: scheme socks5h, a host, an explicit port, nothing else. */
export function readSocksProxyUrl(text: string): SocksProxyReading {
  if (text.length > SOCKS_PROXY_LIMITS.maxUrlChars) return { ok: false, problem: `the proxy URL is ${text.length} characters long, over the ${SOCKS_PROXY_LIMITS.maxUrlChars} allowed; ${EXPECTED}` };
  const scheme = /^([a-z0-9+.-]+):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'socks5' || scheme === 'socks' || scheme === 'socks4' || scheme === 'socks4a') {
    return {
      ok: false,
      problem: `${scheme}:// is not accepted: with it the client resolves destination names itself (an onion name cannot be resolved, and any other name leaks to the local resolver); ${EXPECTED}`,
      hint: `write the same proxy as socks5h://${text.slice(scheme.length + 3).replace(/^[^@/]*@/, 'USER:PASSWORD@')}`,
    };
  }
  if (scheme !== 'socks5h') return { ok: false, problem: `not a socks5h:// URL; ${EXPECTED}` };
  const authority = /^(?:([^:@/?#\s]*):([^@/?#\s]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/.exec(text.slice('socks5h://'.length));
  if (!authority) return { ok: false, problem: `not of the form socks5h://HOST:PORT (a host, an explicit port, no path, query or fragment); ${EXPECTED}` };
  const [, encodedUser, encodedPassword, rawHost, portText] = authority;
  const port = Number(portText);
  if (port < 1 || port > 65535) return { ok: false, problem: `port ${port} is out of range 1-65535; ${EXPECTED}` };
  const bracketed = rawHost!.startsWith('[');
  const host = (bracketed ? rawHost!.slice(1, -1) : rawHost!).toLowerCase();
  if (bracketed && isIP(host) !== 6) return { ok: false, problem: `${rawHost} is not an IPv6 address; ${EXPECTED}` };
  if (isOnionHost(host)) return { ok: false, problem: `the proxy itself cannot be an onion address (${host}); ${EXPECTED}` };
  const proxy: SocksProxy = { url: `socks5h://${bracketed ? `[${host}]` : host}:${port}`, host, port };
  if (encodedUser !== undefined) {
    const username = decodeCredential(encodedUser);
    const password = decodeCredential(encodedPassword!);
    if (username === undefined || password === undefined) return { ok: false, problem: `the credentials are not valid percent-encoded UTF-8; ${EXPECTED}` };
    for (const [what, value] of [['username', username], ['password', password]] as const) {
      const bytes = Buffer.byteLength(value);
      if (bytes < 1 || bytes > SOCKS_PROXY_LIMITS.maxCredentialBytes) {
        return { ok: false, problem: `the ${what} is ${bytes} bytes; SOCKS5 (RFC 1929) allows 1 to ${SOCKS_PROXY_LIMITS.maxCredentialBytes}; ${EXPECTED}` };
      }
    }
    proxy.username = username;
    proxy.password = password;
  }
  return { ok: true, proxy };
}

function decodeCredential(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

/** True for a name under the `.onion` special-use domain (RFC 7686), which only Tor can reach. */
export function isOnionHost(hostname: string): boolean {
  return /(^|\.)onion\.?$/i.test(hostname);
}

type ConnectCallback = (err: Error | null, socket?: Duplex) => void;
/**
 * The request options an Agent hands to createConnection; `socksHandshakeTimeoutMs` is what is
 * left of the caller's deadline (io/fetch.ts passes it with each request), so a proxy that never
 * answers is not waited for beyond it.
 */
export type AgentConnectOptions = TcpNetConnectOpts & ConnectionOptions & { host?: string; port?: number; servername?: string; socksHandshakeTimeoutMs?: number };

function handshakeTimeout(opts: AgentConnectOptions): number {
  const left = opts.socksHandshakeTimeoutMs;
  return left !== undefined && left > 0 ? Math.min(left, SOCKS_PROXY_LIMITS.handshakeTimeoutMs) : SOCKS_PROXY_LIMITS.handshakeTimeoutMs;
}

/** Opens one SOCKS5 CONNECT to `host:port` (the name sent as is, resolved at the proxy). */
async function socksConnect(proxy: SocksProxy, host: string, port: number, timeoutMs: number): Promise<Socket> {
  const { SocksClient } = await import('socks');
  const { socket } = await SocksClient.createConnection({
    command: 'connect',
    proxy: { host: proxy.host, port: proxy.port, type: 5, ...(proxy.username === undefined ? {} : { userId: proxy.username, password: proxy.password }) },
    destination: { host, port },
    timeout: timeoutMs,
  });
  return socket;
}

/** An http Agent whose connections are SOCKS tunnels to each request's host, kept alive per destination. */
export function socksHttpAgent(proxy: SocksProxy, options: AgentOptions): HttpAgent {
  class SocksHttpAgent extends HttpAgent {
    override createConnection(opts: AgentConnectOptions, callback: ConnectCallback): undefined {
      socksConnect(proxy, String(opts.host), Number(opts.port), handshakeTimeout(opts)).then((socket) => callback(null, socket), (e: unknown) => callback(e as Error));
      return undefined;
    }
  }
  return new SocksHttpAgent(options);
}

/**
 * An https Agent whose connections are SOCKS tunnels wrapped in TLS, with the request's host as
 * server name and the usual certificate checks (node:https and node:tls load on the first https
 * URL only).
 */
export async function socksHttpsAgent(proxy: SocksProxy, options: AgentOptions): Promise<HttpsAgent> {
  const https = await import('node:https');
  const tls = await import('node:tls');
  class SocksHttpsAgent extends https.Agent {
    override createConnection(opts: AgentConnectOptions, callback: ConnectCallback): undefined {
      const host = String(opts.host);
      socksConnect(proxy, host, Number(opts.port), handshakeTimeout(opts)).then((socket) => {
        // The TLS session runs end to end inside the tunnel; the proxy sees only ciphertext.
        callback(null, tls.connect({ ...opts, socket, servername: opts.servername ?? (isIP(host) === 0 ? host : undefined) }));
      }, (e: unknown) => callback(e as Error));
      return undefined;
    }
  }
  return new SocksHttpsAgent(options);
}

/** Reply codes of a SOCKS5 CONNECT (RFC 1928 section 6), as the socks library names them. */
const SOCKS5_REPLIES: Record<string, string> = {
  Failure: 'reply 1, general SOCKS server failure',
  NotAllowed: 'reply 2, connection not allowed by ruleset',
  NetworkUnreachable: 'reply 3, network unreachable',
  HostUnreachable: 'reply 4, host unreachable',
  ConnectionRefused: 'reply 5, connection refused by the destination',
  TTLExpired: 'reply 6, TTL expired',
  CommandNotSupported: 'reply 7, command not supported',
  AddressNotSupported: 'reply 8, address type not supported',
};

/**
 * What a failed SOCKS connection means, for a message, or undefined when `e` is not the SOCKS
 * library's error (the failure happened after the tunnel was up: it is the destination's).
 */
export function describeSocksFailure(e: unknown): string | undefined {
  if (!(e instanceof Error) || e.constructor.name !== 'SocksClientError') return undefined;
  const message = e.message.slice(0, 200);
  const rejected = /^Socks5 proxy rejected connection - (\w+)$/.exec(message);
  if (rejected) return `the proxy answered ${SOCKS5_REPLIES[rejected[1]!] ?? rejected[1]}`;
  if (/^Socks5 Authentication failed$/.test(message)) return 'the proxy refused the username and password';
  if (/no accepted authentication type/.test(message)) return 'the proxy accepts none of the offered authentication methods (does it need a username and password?)';
  if (/^Proxy connection timed out$/.test(message)) return 'the proxy did not complete the SOCKS handshake in time';
  if (/^Socket closed$/.test(message)) return 'the proxy closed the connection during the SOCKS handshake (is it a SOCKS5 proxy?)';
  if (/invalid Socks5/i.test(message)) return `the proxy does not speak SOCKS5 (${message})`;
  const errno = /\b(E[A-Z]+)\b/.exec(message)?.[1];
  if (errno === 'ECONNREFUSED') return 'cannot connect to the proxy (ECONNREFUSED: is it running?)';
  return `cannot use the proxy (${message})`;
}
