// witness/wire.ts: the messages of the witness HTTP API (docs/protocol.md section 8), their caps,
// and the strict parsers that turn untrusted JSON into typed values at the edge (STYLE.md
// "Untrusted bytes are bounded and parsed once"). Binary values are lowercase hex; TUF documents
// are base64 of their exact bytes. Blocks, links and statements are only shape-checked here as
// JSON values: the witness parses them with src/log's strict parsers when it checks them.
import { WitnessError } from './errors.js';

/** Caps on what a witness accepts and a leader reads back, with their reasons. */
export const WIRE_LIMITS = {
  /** Default cap on a request body: a genesis of a large repository carries every targets role. */
  maxRequestBytes: 64 * 1024 * 1024,
  /** Answers are small fixed shapes (an info answer lists the recorded roles' versions). */
  maxAnswerBytes: 8 * 1024 * 1024,
  /** Most catch-up entries in one request: a witness further behind is brought up in steps. */
  maxCatchUp: 256,
  /** Most TUF documents in one request (hash bins of a large repository). */
  maxDocuments: 70_000,
  /** Session and nonce identifiers are short opaque strings. */
  maxIdLength: 128,
  /** A domain-separated message: context, 0x00, canonical statement (a link or head statement). */
  maxMessageBytes: 16 * 1024,
  /** Targets one block commit carries attestations for (BUILD_POLICY_LIMITS.maxArtifacts). */
  maxAttestedTargets: 10_000,
  /** Attestations per target (BUILD_POLICY_LIMITS.maxAttestationsPerArtifact). */
  maxAttestationsPerTarget: 64,
  /** Base64 of one attestation file (ATTESTATION_LIMITS.maxEnvelopeBytes = 512 KiB). */
  maxAttestationBase64: 4 * Math.ceil((512 * 1024) / 3),
} as const;

/** TUF documents of a proposal (protocol.md section 8): new roots, snapshot, changed targets roles. */
export interface WireDocuments {
  roots: string[];
  snapshot: string;
  targets: Record<string, string>;
}

/** A block the witness missed, with the co-signed level-0 link that approved it. */
export interface CatchUpEntry {
  block: unknown;
  link: unknown;
  cosignature: unknown;
}

export interface GenesisRequest {
  block: unknown;
  documents: WireDocuments;
  /** Extension (protocol.md section 8): blocks after genesis, for a witness joining a running chain. */
  catchUp?: CatchUpEntry[];
}

export type StatementKind = 'block' | 'link' | 'head';

export interface CommitRequest {
  session: string;
  kind: StatementKind;
  statement: unknown;
  block?: unknown;
  documents?: WireDocuments;
  catchUp?: CatchUpEntry[];
  /**
   * Extension (protocol.md section 8, issue 4): rebuild attestations of the artifacts the block
   * adds or changes, by target path, each base64 of the exact bytes of an attestation file.
   */
  attestations?: Record<string, string[]>;
}

export interface RespondRequest {
  session: string;
  nonceId: string;
  rosterHash: string;
  R1: string;
  R2: string;
  bitmap: string;
  message: string;
}

export interface HeadRef {
  index: number;
  hash: string;
}

export interface StateSummary {
  /** Index of the block whose TUF state the witness recorded. */
  index: number;
  /** Versions of root and snapshot in that state. */
  root: number;
  snapshot: number;
  /** Targets roles (top-level and delegated) by name, with their versions. */
  roles: Record<string, number>;
}

export interface InfoAnswer {
  name: string;
  key: string;
  pop: string;
  address: string;
  chain: string | null;
  head: HeadRef | null;
  state: StateSummary | null;
}

export interface CommitAnswer {
  nonceId: string;
  R1: string;
  R2: string;
}

export interface RespondAnswer {
  s: string;
}

export interface GenesisAnswer {
  head: HeadRef;
}

type Json = Record<string, unknown>;

const bad = (why: string): WitnessError => new WitnessError('BAD_REQUEST', why);
const HEX = /^[0-9a-f]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function object(value: unknown, what: string, required: readonly string[], optional: readonly string[] = []): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(`${what}: expected an object`);
  const o = value as Json;
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) throw bad(`${what}: unexpected field "${k}"`);
  for (const k of required) if (!Object.hasOwn(o, k)) throw bad(`${what}: missing field "${k}"`);
  return o;
}

function id(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > WIRE_LIMITS.maxIdLength || !/^[\x21-\x7e]+$/.test(value)) {
    throw bad(`${what} must be 1 to ${WIRE_LIMITS.maxIdLength} printable ASCII characters`);
  }
  return value;
}

/** Lowercase hex; of exactly `bytes` bytes when given, else at most `maxBytes`. */
export function hexField(value: unknown, what: string, bytes?: number, maxBytes = WIRE_LIMITS.maxMessageBytes): string {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !HEX.test(value)) throw bad(`${what} must be lowercase hex`);
  if (bytes !== undefined && value.length !== 2 * bytes) throw bad(`${what} must be ${bytes} bytes, found ${value.length / 2}`);
  if (value.length > 2 * maxBytes) throw bad(`${what} is longer than ${maxBytes} bytes`);
  return value;
}

/** Exact bytes of a base64 field (strict alphabet and padding). */
export function base64Bytes(value: string, what: string): Buffer {
  if (value.length % 4 !== 0 || !BASE64.test(value)) throw bad(`${what} must be base64`);
  return Buffer.from(value, 'base64');
}

function base64(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) throw bad(`${what} must be base64 of the document's exact bytes`);
  return value;
}

function documents(value: unknown, what: string): WireDocuments {
  const o = object(value, what, ['roots', 'snapshot', 'targets']);
  if (!Array.isArray(o.roots) || o.roots.length > 1024) throw bad(`${what}.roots must be an array of at most 1024 documents`);
  if (o.targets === null || typeof o.targets !== 'object' || Array.isArray(o.targets)) throw bad(`${what}.targets must be an object`);
  const t = o.targets as Json;
  const names = Object.keys(t);
  if (names.length + o.roots.length > WIRE_LIMITS.maxDocuments) throw bad(`${what} carries more than ${WIRE_LIMITS.maxDocuments} documents`);
  const targets: Record<string, string> = {};
  for (const name of names) {
    if (name.length === 0 || name.length > 255) throw bad(`${what}.targets: role name of ${name.length} characters`);
    targets[name] = base64(t[name], `${what}.targets.${name}`);
  }
  return { roots: o.roots.map((r, i) => base64(r, `${what}.roots[${i}]`)), snapshot: base64(o.snapshot, `${what}.snapshot`), targets };
}

/** Per-target lists of base64 attestation files (caps: targets, envelopes per target, envelope size). */
function attestationLists(value: unknown, what: string): Record<string, string[]> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(`${what} must be an object TARGET -> [base64...]`);
  const o = value as Json;
  const names = Object.keys(o);
  if (names.length > WIRE_LIMITS.maxAttestedTargets) throw bad(`${what} names more than ${WIRE_LIMITS.maxAttestedTargets} targets`);
  const out: Record<string, string[]> = {};
  for (const name of names) {
    if (name.length === 0 || name.length > 4096) throw bad(`${what}: target path of ${name.length} characters`);
    const list = o[name];
    if (!Array.isArray(list) || list.length > WIRE_LIMITS.maxAttestationsPerTarget) throw bad(`${what}.${name} must be an array of at most ${WIRE_LIMITS.maxAttestationsPerTarget} attestations`);
    out[name] = list.map((e, i) => {
      const text = base64(e, `${what}.${name}[${i}]`);
      if (text.length > WIRE_LIMITS.maxAttestationBase64) throw bad(`${what}.${name}[${i}] is larger than an attestation may be`);
      return text;
    });
  }
  return out;
}

function catchUp(value: unknown, what: string): CatchUpEntry[] {
  if (!Array.isArray(value) || value.length > WIRE_LIMITS.maxCatchUp) throw bad(`${what} must be an array of at most ${WIRE_LIMITS.maxCatchUp} entries`);
  return value.map((e, i) => {
    const o = object(e, `${what}[${i}]`, ['block', 'link', 'cosignature']);
    return { block: o.block, link: o.link, cosignature: o.cosignature };
  });
}

export function parseGenesisRequest(value: unknown): GenesisRequest {
  const o = object(value, 'genesis request', ['block', 'documents'], ['catchUp']);
  return {
    block: o.block,
    documents: documents(o.documents, 'documents'),
    ...(o.catchUp === undefined ? {} : { catchUp: catchUp(o.catchUp, 'catchUp') }),
  };
}

export function parseCommitRequest(value: unknown): CommitRequest {
  const o = object(value, 'commit request', ['session', 'kind', 'statement'], ['block', 'documents', 'catchUp', 'attestations']);
  const kind = o.kind;
  if (kind !== 'block' && kind !== 'link' && kind !== 'head') throw bad(`kind must be "block", "link" or "head", found ${JSON.stringify(kind)}`);
  if (kind === 'block' && (o.block === undefined || o.documents === undefined)) throw bad('a block commit carries block and documents');
  if (kind !== 'block' && (o.block !== undefined || o.documents !== undefined || o.catchUp !== undefined || o.attestations !== undefined)) throw bad(`a ${kind} commit carries only session, kind and statement`);
  return {
    session: id(o.session, 'session'),
    kind,
    statement: o.statement,
    ...(o.block === undefined ? {} : { block: o.block }),
    ...(o.documents === undefined ? {} : { documents: documents(o.documents, 'documents') }),
    ...(o.attestations === undefined ? {} : { attestations: attestationLists(o.attestations, 'attestations') }),
    ...(o.catchUp === undefined ? {} : { catchUp: catchUp(o.catchUp, 'catchUp') }),
  };
}

export function parseRespondRequest(value: unknown): RespondRequest {
  const o = object(value, 'respond request', ['session', 'nonceId', 'rosterHash', 'R1', 'R2', 'bitmap', 'message']);
  return {
    session: id(o.session, 'session'),
    nonceId: id(o.nonceId, 'nonceId'),
    rosterHash: hexField(o.rosterHash, 'rosterHash', 32),
    R1: hexField(o.R1, 'R1', 32),
    R2: hexField(o.R2, 'R2', 32),
    bitmap: hexField(o.bitmap, 'bitmap', undefined, 1250),
    message: hexField(o.message, 'message'),
  };
}

// ---- answers, as a leader reads them (also untrusted) ---------------------------------------

function answerError(why: string): Error {
  return new Error(why);
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw answerError(`${what} must be a non-negative integer`);
  return value;
}

function str(value: unknown, what: string, max = 512): string {
  if (typeof value !== 'string' || value.length > max) throw answerError(`${what} must be a string of at most ${max} characters`);
  return value;
}

function headRef(value: unknown, what: string): HeadRef {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw answerError(`${what} must be an object`);
  const o = value as Json;
  const hash = str(o.hash, `${what}.hash`, 64);
  if (hash.length !== 64 || !HEX.test(hash)) throw answerError(`${what}.hash must be a hash`);
  return { index: int(o.index, `${what}.index`), hash };
}

/** Parses GET /v1/info (throws a plain Error; the client wraps it as BAD_ANSWER). */
export function parseInfoAnswer(value: unknown): InfoAnswer {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw answerError('info: expected an object');
  const o = value as Json;
  let state: StateSummary | null = null;
  if (o.state !== null && o.state !== undefined) {
    if (typeof o.state !== 'object' || Array.isArray(o.state)) throw answerError('info.state must be an object');
    const s = o.state as Json;
    if (s.roles === null || typeof s.roles !== 'object' || Array.isArray(s.roles)) throw answerError('info.state.roles must be an object');
    const roles: Record<string, number> = {};
    for (const [k, v] of Object.entries(s.roles as Json)) roles[k] = int(v, `info.state.roles.${k}`);
    state = { index: int(s.index, 'info.state.index'), root: int(s.root, 'info.state.root'), snapshot: int(s.snapshot, 'info.state.snapshot'), roles };
  }
  const chain = o.chain === null ? null : str(o.chain, 'info.chain', 64);
  return {
    name: str(o.name, 'info.name', 64),
    key: str(o.key, 'info.key', 64),
    pop: str(o.pop, 'info.pop', 128),
    address: str(o.address, 'info.address'),
    chain,
    head: o.head === null ? null : headRef(o.head, 'info.head'),
    state,
  };
}

export function parseCommitAnswer(value: unknown): CommitAnswer {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw answerError('commit answer: expected an object');
  const o = value as Json;
  const R1 = str(o.R1, 'R1', 64);
  const R2 = str(o.R2, 'R2', 64);
  if (!HEX.test(R1) || R1.length !== 64 || !HEX.test(R2) || R2.length !== 64) throw answerError('R1 and R2 must be 32 bytes of lowercase hex');
  return { nonceId: str(o.nonceId, 'nonceId', WIRE_LIMITS.maxIdLength), R1, R2 };
}

export function parseRespondAnswer(value: unknown): RespondAnswer {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw answerError('respond answer: expected an object');
  const s = str((value as Json).s, 's', 64);
  if (s.length !== 64 || !HEX.test(s)) throw answerError('s must be 32 bytes of lowercase hex');
  return { s };
}

export function parseGenesisAnswer(value: unknown): GenesisAnswer {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw answerError('genesis answer: expected an object');
  return { head: headRef((value as Json).head, 'head') };
}
