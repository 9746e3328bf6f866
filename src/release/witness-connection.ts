// release/witness-connection.ts: the leader's side of one witness's HTTP API (docs/protocol.md
// section 8). Every call has a deadline and a cap on the answer's size; answers are parsed
// strictly (witness/wire.ts). A witness's refusal becomes WitnessCallError('REFUSED') carrying the
// witness's { error, code, message }, so the leader can report which rule each witness applied.
// Requests that make a witness work (genesis, commit, respond) are signed with the leader's
// witness key, a roster member's, for the witness's own key (docs/protocol.md section 8 "Who may
// ask"); GET /v1/info is not.
// httpWitnessEndpoint adapts a connection to cosi's WitnessEndpoint for runCosiRound.
import { parseJsonBounded } from '../encoding/bounded-json.js';
import { COSI_ROUND_DEFAULTS, type NonceCommitment, type Roster, type RosterWitness, type WitnessChallenge, type WitnessEndpoint, type WitnessKey } from '../cosi/index.js';
import { parseRoster } from '../log/index.js';
import type { RemoteRefusal } from '../witness/index.js';
import { LeaderError, WitnessCallError } from './errors.js';
import {
  signWitnessRequest,
  parseCheckpointAnswer,
  parseCommitAnswer,
  parseGenesisAnswer,
  parseInfoAnswer,
  parseRespondAnswer,
  WIRE_LIMITS,
  type CheckpointAnswer,
  type CheckpointRequest,
  type CommitAnswer,
  type CommitRequest,
  type GenesisAnswer,
  type GenesisRequest,
  type InfoAnswer,
  type RespondAnswer,
  type RespondRequest,
} from '../witness/index.js';

export interface WitnessConnectionOptions {
  /** Deadline of one call, in ms (a genesis carrying many documents gets 4 times this). */
  timeoutMs?: number;
  /** Largest answer read, in bytes. */
  maxAnswerBytes?: number;
  /** Signs the requests that make the witness work: the leader's witness key (a roster member's) and the witness's key. */
  signer?: { leaderKey: WitnessKey; witnessKey: string };
}

/** Deadline of one call to a witness when none is given (`cairn repo publish --witness-timeout`, `cairn log ... --timeout`). */
export const DEFAULT_CALL_TIMEOUT_MS = COSI_ROUND_DEFAULTS.callTimeoutMs;

const WITNESS_CONNECTION_DEFAULTS = { timeoutMs: DEFAULT_CALL_TIMEOUT_MS, maxAnswerBytes: WIRE_LIMITS.maxAnswerBytes } as const;

export class WitnessConnection {
  readonly address: string;
  private readonly timeoutMs: number;
  private readonly maxAnswerBytes: number;
  private readonly signer: WitnessConnectionOptions['signer'];

  constructor(address: string, options: WitnessConnectionOptions = {}) {
    this.address = address.endsWith('/') ? address.slice(0, -1) : address;
    this.signer = options.signer;
    this.timeoutMs = options.timeoutMs ?? WITNESS_CONNECTION_DEFAULTS.timeoutMs;
    this.maxAnswerBytes = options.maxAnswerBytes ?? WITNESS_CONNECTION_DEFAULTS.maxAnswerBytes;
  }

  info(): Promise<InfoAnswer> {
    return this.call('GET', '/v1/info', undefined, parseInfoAnswer);
  }

  genesis(request: GenesisRequest): Promise<GenesisAnswer> {
    return this.call('POST', '/v1/genesis', request, parseGenesisAnswer, 4);
  }

  commit(request: CommitRequest): Promise<CommitAnswer> {
    return this.call('POST', '/v1/commit', request, parseCommitAnswer);
  }

  checkpoint(request: CheckpointRequest): Promise<CheckpointAnswer> {
    return this.call('POST', '/v1/checkpoint', request, parseCheckpointAnswer);
  }

  respond(request: RespondRequest): Promise<RespondAnswer> {
    return this.call('POST', '/v1/respond', request, parseRespondAnswer);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, parse: (value: unknown) => T, slow = 1): Promise<T> {
    const url = `${this.address}${path}`;
    const timeout = this.timeoutMs * slow;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    try {
      let response: Response;
      try {
        const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const signed = bytes && this.signer ? signWitnessRequest(this.signer.leaderKey, { method, path, witness: this.signer.witnessKey, body: bytes }) : {};
        response = await fetch(url, {
          method,
          signal: controller.signal,
          redirect: 'error',
          ...(bytes === undefined ? {} : { body: bytes, headers: { 'content-type': 'application/json', ...signed } }),
        });
      } catch (e) {
        if (controller.signal.aborted) throw new WitnessCallError('TIMEOUT', `${method} ${url}: no answer within ${timeout} ms`);
        const cause = (e as { cause?: { code?: string } }).cause?.code;
        throw new WitnessCallError('UNREACHABLE', `${method} ${url}: ${cause ?? (e as Error).message}`, { cause: e });
      }
      const bytes = await this.readCapped(response, url, controller);
      let value: unknown;
      try {
        value = parseJsonBounded(bytes, `answer of ${url}`, { maxBytes: this.maxAnswerBytes, maxDepth: 8, maxEntries: 200_000 });
      } catch (e) {
        throw new WitnessCallError('BAD_ANSWER', `${method} ${url}: HTTP ${response.status} with an answer that is not JSON: ${(e as Error).message}`);
      }
      if (!response.ok) {
        const refusal = asRefusal(value);
        if (refusal) {
          throw new WitnessCallError('REFUSED', `${this.address} refused: ${refusal.code}: ${refusal.message}`, { status: response.status, refusal });
        }
        throw new WitnessCallError('BAD_ANSWER', `${method} ${url}: HTTP ${response.status}`, { status: response.status });
      }
      try {
        return parse(value);
      } catch (e) {
        throw new WitnessCallError('BAD_ANSWER', `${method} ${url}: ${(e as Error).message}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async readCapped(response: Response, url: string, controller: AbortController): Promise<Buffer> {
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxAnswerBytes) {
      controller.abort();
      throw new WitnessCallError('BAD_ANSWER', `${url}: answer of ${declared} bytes, the cap is ${this.maxAnswerBytes}`);
    }
    if (!response.body) return Buffer.alloc(0);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > this.maxAnswerBytes) {
          controller.abort();
          throw new WitnessCallError('BAD_ANSWER', `${url}: answer over the cap of ${this.maxAnswerBytes} bytes`);
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof WitnessCallError) throw e;
      if (controller.signal.aborted) throw new WitnessCallError('TIMEOUT', `${url}: answer not complete within the deadline`);
      throw new WitnessCallError('UNREACHABLE', `${url}: ${(e as Error).message}`);
    }
    return Buffer.concat(chunks);
  }
}

function asRefusal(value: unknown): RemoteRefusal | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.error !== 'string' || typeof o.code !== 'string' || typeof o.message !== 'string') return undefined;
  return { error: o.error.slice(0, 64), code: o.code.slice(0, 64), message: o.message.slice(0, 2048) };
}

/** An endpoint that remembers the last error of its witness (for the leader's report). */
export interface HttpWitnessEndpoint extends WitnessEndpoint {
  readonly connection: WitnessConnection;
  lastError: unknown;
  /** What the witness said with its last commitment (CommitAnswer `notes`). */
  notes: string[];
}

/**
 * A cosi WitnessEndpoint over HTTP: commit sends `commit` (everything but the session, which the
 * round names), respond sends the challenge as hex.
 */
export function httpWitnessEndpoint(connection: WitnessConnection, index: number, commit: Omit<CommitRequest, 'session'>): HttpWitnessEndpoint {
  const endpoint: HttpWitnessEndpoint = {
    index,
    connection,
    lastError: undefined,
    notes: [],
    commit: async (session: string): Promise<NonceCommitment> => {
      try {
        const a = await connection.commit({ session, ...commit });
        endpoint.notes = a.notes ?? [];
        return { nonceId: a.nonceId, R1: Buffer.from(a.R1, 'hex'), R2: Buffer.from(a.R2, 'hex') };
      } catch (e) {
        endpoint.lastError = e;
        throw e;
      }
    },
    respond: async (c: WitnessChallenge): Promise<Uint8Array> => {
      try {
        const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
        const a = await connection.respond({ session: c.session, nonceId: c.nonceId, rosterHash: c.rosterHash, R1: hex(c.R1), R2: hex(c.R2), bitmap: hex(c.bitmap), message: hex(c.message) });
        return Buffer.from(a.s, 'hex');
      } catch (e) {
        endpoint.lastError = e;
        throw e;
      }
    },
  };
  return endpoint;
}

/** GET /v1/info of every address, in order; a witness that cannot be asked gives its Error. */
export async function fetchInfos(addresses: readonly string[], timeoutMs: number): Promise<Array<InfoAnswer | Error>> {
  return Promise.all(addresses.map((a) => new WitnessConnection(a, { timeoutMs }).info().catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
}

/** The roster of the witnesses at `addresses` (their /v1/info), checked: keys, proofs of possession, threshold. */
export async function rosterOfWitnesses(addresses: readonly string[], threshold: number, timeoutMs: number): Promise<Roster> {
  const infos = await fetchInfos(addresses, timeoutMs);
  const witnesses: RosterWitness[] = infos.map((info, i) => {
    if (info instanceof WitnessCallError && info.code !== 'BAD_ANSWER') {
      // Unreachable or too slow is the network's fault (exit 5), as in every command.
      throw new WitnessCallError(info.code, `witness ${addresses[i]} of the new roster did not answer: ${info.message}`, { cause: info, hint: 'start it (cairn witness serve) or correct its --witness address: every witness of a new roster must answer' });
    }
    if (info instanceof Error) throw new LeaderError('BAD_WITNESS', `witness ${addresses[i]} gave no usable roster entry: ${info.message}`, { hint: 'check that --witness names a cairn witness\'s address', cause: info });
    return { name: info.name, key: info.key, pop: info.pop, address: info.address };
  });
  const roster: Roster = { threshold, witnesses };
  parseRoster(roster, 'new roster');
  return roster;
}

