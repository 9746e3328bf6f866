// witness/http-api.ts: the witness HTTP API (docs/protocol.md section 8) on hono and
// @hono/node-server. JSON in and out; request bodies are read with a cap (WIRE_LIMITS, or the
// witness's configuration) and parsed once into typed requests (wire.ts), then decided by the
// WitnessService. Every refusal is `{ error, code, message }`: 400 for a malformed request, 401
// for a request not signed by anyone, or signed badly, stale or replayed, 403 for a signer that is
// not a roster member, 409 for a request refused by a rule (the code names it), 413 over the body
// cap, 429 over a member's rate, 500 otherwise.
//
// GET /v1/info is public. The POST endpoints make the witness work, so they are checked in the
// order that costs an attacker most and the witness least (docs/protocol.md section 8 "Who may
// ask"; request-auth.ts): signature headers present, time fresh, signer a member of the roster in
// force at the head, the signature verified over the headers (which carry the body's hash), the
// request ID never seen, the member under its rate; only then is the body read, with its cap, and
// checked against the signed hash. A stranger naming a member's public key makes the witness
// buffer no body. A witness that follows no chain has no members, so the senders of a genesis
// share one rate and a few bodies in flight (WITNESS_SERVER_LIMITS.maxFreshGenesisBodies). Only then is the request parsed and decided, for that member (the peer).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Hono, type Context } from 'hono';
import { serve } from '@hono/node-server';
import { parseJsonBounded } from '../encoding/bounded-json.js';
import { CairnError, FormatError } from '../errors/index.js';
import { WitnessError } from './errors.js';
import { readRequestClaim, RequestGuard, type RequestRate } from './request-auth.js';
import type { WitnessService } from './service.js';
import { parseCheckpointRequest, parseCommitRequest, parseGenesisRequest, parseRespondRequest, WIRE_LIMITS } from './wire.js';

export interface WitnessServerOptions {
  service: WitnessService;
  /** Loopback by default. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Largest request body accepted, in bytes (documents included). */
  maxRequestBytes?: number;
  /** Each member's request rate (default REQUEST_AUTH_LIMITS). */
  rate?: RequestRate;
}

export interface RunningWitnessServer {
  url: string;
  port: number;
  /** Stops accepting connections and waits for requests in flight. */
  close(): Promise<void>;
}

/** Limits on connections (slow clients cannot hold a witness). */
export const WITNESS_SERVER_LIMITS = {
  /** A request must arrive completely within this time. */
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16 * 1024,
  /**
   * A witness that follows no chain has no members: anyone may sign the genesis it is sent, so
   * those senders share one rate (the members' rate, not one each: their keys cost nothing) and
   * at most this many of their bodies are read at once (memory: this many times the body cap).
   */
  maxFreshGenesisBodies: 2,
  /** Refusals of unauthenticated or over-rate requests: at most one log line per code in this time. */
  refusalLogIntervalMs: 10_000,
  /** Bounds of the JSON of a request beyond its size. */
  maxDepth: 32,
  maxEntries: 2_000_000,
} as const;

const AUTH_STATUS: Partial<Record<string, 401 | 403 | 429>> = {
  UNAUTHENTICATED: 401, BAD_SIGNATURE: 401, STALE_REQUEST: 401, REPLAYED_REQUEST: 401, NOT_A_MEMBER: 403, RATE_LIMITED: 429,
};

/** 400 for malformed requests, 401/403/429 for who asks, 409 for refusals by a rule, 500 for anything else. */
function statusOf(e: unknown): 400 | 401 | 403 | 409 | 413 | 429 | 500 {
  if (e instanceof FormatError) return e.code === 'TOO_LARGE' ? 413 : 400;
  if (e instanceof WitnessError && e.code === 'BAD_REQUEST') return 400;
  if (e instanceof WitnessError && AUTH_STATUS[e.code] !== undefined) return AUTH_STATUS[e.code]!;
  if (e instanceof CairnError) return 409;
  return 500;
}

async function readBody(c: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new FormatError('TOO_LARGE', `request body of ${declared} bytes, this witness accepts at most ${maxBytes}`);
  const body = c.req.raw.body;
  if (!body) throw new WitnessError('BAD_REQUEST', 'the request has no body');
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new FormatError('TOO_LARGE', `request body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function createWitnessApp(service: WitnessService, maxRequestBytes = WIRE_LIMITS.maxRequestBytes, rate?: RequestRate): Hono {
  const app = new Hono();
  const guard = new RequestGuard(service.identity.key.publicKeyHex, rate);
  /**
   * Requests refused before they were shown to come from a member (401, 403) or over a rate (429)
   * are logged once per code per interval, with the count of those left out: anyone can send them,
   * and they must not flood the operator's log.
   */
  const refusedSenders = new Map<string, { at: number; leftOut: number }>();
  const logRefusedSender = (what: string, e: unknown): void => {
    const code = e instanceof CairnError ? e.code : 'INTERNAL';
    const now = Date.now();
    const seen = refusedSenders.get(code);
    if (seen && now - seen.at < WITNESS_SERVER_LIMITS.refusalLogIntervalMs) {
      seen.leftOut++;
      return;
    }
    refusedSenders.set(code, { at: now, leftOut: 0 });
    service.noteRefused(seen && seen.leftOut > 0 ? `${what} (and ${seen.leftOut} more ${code} refusals since the last line)` : what, e);
  };
  /** Bodies of genesis requests to this witness, while it follows no chain, being read now. */
  let freshGenesisBodies = 0;
  /** The checks of the module header; returns the parsed body and the member who signed it. */
  const authenticated = async (c: Context, maxBytes: number): Promise<{ body: unknown; peer: string }> => {
    const path = new URL(c.req.url).pathname;
    const claim = readRequestClaim((name) => c.req.header(name));
    guard.checkTime(claim);
    const members = service.members();
    if (!members) {
      // No chain yet, so no members: genesis() checks the sender against the rosters of the chain it brings.
      if (path !== '/v1/genesis') service.requireChain();
      if (freshGenesisBodies >= WITNESS_SERVER_LIMITS.maxFreshGenesisBodies) {
        throw new WitnessError('RATE_LIMITED', `this witness follows no chain yet and is receiving ${freshGenesisBodies} genesis requests; try again shortly`);
      }
    } else if (!members.has(claim.signer)) {
      throw new WitnessError('NOT_A_MEMBER', `${claim.signer.slice(0, 12)} is not a member of the roster in force at this witness's head; only members may ask it to work`);
    }
    guard.verify(claim, c.req.method, path);
    guard.admit(claim, members ? claim.signer : 'the senders of a genesis to this fresh witness');
    if (!members) freshGenesisBodies++;
    try {
      const bytes = await readBody(c, maxBytes);
      guard.checkBody(claim, bytes);
      const body = parseJsonBounded(bytes, 'request body', { maxBytes, maxDepth: WITNESS_SERVER_LIMITS.maxDepth, maxEntries: WITNESS_SERVER_LIMITS.maxEntries });
      return { body, peer: claim.signer };
    } finally {
      if (!members) freshGenesisBodies--;
    }
  };
  const fail = (c: Context, e: unknown): Response => {
    const status = statusOf(e);
    const what = `${c.req.method} ${new URL(c.req.url).pathname}`;
    if (status === 401 || status === 403 || status === 429) logRefusedSender(what, e);
    else if (status !== 409 && status !== 500) service.noteRefused(what, e);
    const body = e instanceof CairnError
      ? { error: e.name, code: e.code, message: e.message }
      : { error: 'InternalError', code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
    return c.json(body, status);
  };
  app.get('/v1/info', (c) => c.json(service.info()));
  app.post('/v1/genesis', async (c) => {
    try {
      const { body, peer } = await authenticated(c, maxRequestBytes);
      return c.json(service.genesis(parseGenesisRequest(body), peer));
    } catch (e) {
      return fail(c, e);
    }
  });
  app.post('/v1/commit', async (c) => {
    try {
      const { body, peer } = await authenticated(c, maxRequestBytes);
      return c.json(await service.commit(parseCommitRequest(body), peer));
    } catch (e) {
      return fail(c, e);
    }
  });
  app.post('/v1/checkpoint', async (c) => {
    try {
      const { body, peer } = await authenticated(c, 16 * 1024);
      return c.json(service.cosignCheckpoint(parseCheckpointRequest(body), peer));
    } catch (e) {
      return fail(c, e);
    }
  });
  app.post('/v1/respond', async (c) => {
    try {
      const { body, peer } = await authenticated(c, 64 * 1024);
      return c.json(await service.respond(parseRespondRequest(body), peer));
    } catch (e) {
      return fail(c, e);
    }
  });
  app.notFound((c) => c.json({ error: 'WitnessError', code: 'BAD_REQUEST', message: `no such endpoint: ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  return app;
}

/** Starts the witness HTTP service and resolves once it listens. */
export function startWitnessServer(options: WitnessServerOptions): Promise<RunningWitnessServer> {
  const app = createWitnessApp(options.service, options.maxRequestBytes, options.rate);
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: host, port: options.port ?? 0, serverOptions: { maxHeaderSize: WITNESS_SERVER_LIMITS.maxHeaderBytes, requestTimeout: WITNESS_SERVER_LIMITS.requestTimeoutMs, keepAliveTimeout: WITNESS_SERVER_LIMITS.keepAliveTimeoutMs } },
      (info: AddressInfo) => {
        const s = server as Server;
        s.off('error', reject);
        const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        resolve({
          url: `http://${shownHost}:${info.port}`,
          port: info.port,
          close: () =>
            new Promise<void>((done) => {
              s.close(() => done());
              s.closeIdleConnections?.();
            }),
        });
      },
    ) as Server;
    server.once('error', reject);
  });
}
