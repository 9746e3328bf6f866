// witness/wire.ts: the messages of the witness HTTP API (docs/protocol.md section 8), their caps,
// and the strict parsers that turn untrusted JSON into typed values at the edge, through the
// field reader of encoding/ (docs/architecture.md "Untrusted input"). Binary values are lowercase hex; TUF documents
// are base64 of their exact bytes. Blocks, links and statements are only shape-checked here as
// JSON values: the witness parses them with src/log's strict parsers when it checks them.
import { FieldReader } from '../encoding/field-reader.js';
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
  /** A checkpoint to cosign: origin, size and root hash (no extension lines). */
  maxCheckpointChars: 1024,
  /** Notes in a commit answer (one per upstream import a block names, UPSTREAM_CHECK_LIMITS), and their length. */
  maxNotes: 16,
  maxNoteChars: 2048,
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
   * Extension (protocol.md section 8; docs/verified-builds.md section 7): rebuild attestations
   * of the artifacts the block adds or changes, by target path, each base64 of the exact bytes
   * of an attestation file.
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
  /** What the witness says about what it checked (an upstream import verified, fetched or not); absent when nothing. */
  notes?: string[];
}

export interface RespondAnswer {
  s: string;
}

export interface GenesisAnswer {
  head: HeadRef;
}

/** Requests: a malformed one is refused with WitnessError BAD_REQUEST (HTTP 400). */
const request = new FieldReader((message) => new WitnessError('BAD_REQUEST', message));
/** Answers: a malformed one throws a plain Error, which the HTTP client reports as BAD_ANSWER. */
const answer = new FieldReader((message) => new Error(message));

/** A TUF document is bounded by the request cap alone (the witness's configured maxRequestBytes). */
const MAX_DOCUMENT_BASE64 = Number.POSITIVE_INFINITY;
/** Longest targets role name, and longest target path. */
const MAX_ROLE_NAME_CHARS = 255;
const MAX_TARGET_PATH_CHARS = 4096;

function id(value: unknown, field: string): string {
  return request.string(value, field, WIRE_LIMITS.maxIdLength, { min: 1, pattern: /^[\x21-\x7e]+$/, expected: `1 to ${WIRE_LIMITS.maxIdLength} printable ASCII characters` });
}

/** Exact bytes of a base64 field (strict alphabet and padding). */
export function base64Bytes(value: string, what: string): Buffer {
  return Buffer.from(request.base64(value, what, MAX_DOCUMENT_BASE64), 'base64');
}

function documents(value: unknown, what: string): WireDocuments {
  const o = request.exact(value, what, ['roots', 'snapshot', 'targets']);
  const roots = request.array(o.roots, `${what}.roots`, 1024);
  const targets = request.entries(o.targets, `${what}.targets`, WIRE_LIMITS.maxDocuments, MAX_ROLE_NAME_CHARS);
  if (targets.length + roots.length > WIRE_LIMITS.maxDocuments) throw request.fail(`${what} carries more than ${WIRE_LIMITS.maxDocuments} documents`);
  return {
    roots: roots.map((r, i) => request.base64(r, `${what}.roots[${i}]`, MAX_DOCUMENT_BASE64)),
    snapshot: request.base64(o.snapshot, `${what}.snapshot`, MAX_DOCUMENT_BASE64),
    targets: Object.fromEntries(targets.map(([name, text]) => [name, request.base64(text, `${what}.targets.${name}`, MAX_DOCUMENT_BASE64)])),
  };
}

/** Per-target lists of base64 attestation files (caps: targets, envelopes per target, envelope size). */
/** The attestation files of a block commit (target path -> base64 of each file), read with `r` and the wire's caps. */
export function readAttestationLists(r: FieldReader, value: unknown, what: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, list] of r.entries(value, what, WIRE_LIMITS.maxAttestedTargets, MAX_TARGET_PATH_CHARS)) {
    out[name] = r.array(list, `${what}.${name}`, WIRE_LIMITS.maxAttestationsPerTarget)
      .map((e, i) => r.base64(e, `${what}.${name}[${i}]`, WIRE_LIMITS.maxAttestationBase64));
  }
  return out;
}

function catchUp(value: unknown, what: string): CatchUpEntry[] {
  return request.array(value, what, WIRE_LIMITS.maxCatchUp).map((e, i) => {
    const o = request.exact(e, `${what}[${i}]`, ['block', 'link', 'cosignature']);
    return { block: o.block, link: o.link, cosignature: o.cosignature };
  });
}

export function parseGenesisRequest(value: unknown): GenesisRequest {
  const o = request.exact(value, 'genesis request', ['block', 'documents'], ['catchUp']);
  return {
    block: o.block,
    documents: documents(o.documents, 'documents'),
    ...(o.catchUp === undefined ? {} : { catchUp: catchUp(o.catchUp, 'catchUp') }),
  };
}

export function parseCommitRequest(value: unknown): CommitRequest {
  const o = request.exact(value, 'commit request', ['session', 'kind', 'statement'], ['block', 'documents', 'catchUp', 'attestations']);
  const kind = request.oneOf(o.kind, 'kind', ['block', 'link', 'head'] as const);
  if (kind === 'block' && (o.block === undefined || o.documents === undefined)) throw request.fail('a block commit carries block and documents');
  if (kind !== 'block' && (o.block !== undefined || o.documents !== undefined || o.catchUp !== undefined || o.attestations !== undefined)) throw request.fail(`a ${kind} commit carries only session, kind and statement`);
  return {
    session: id(o.session, 'session'),
    kind,
    statement: o.statement,
    ...(o.block === undefined ? {} : { block: o.block }),
    ...(o.documents === undefined ? {} : { documents: documents(o.documents, 'documents') }),
    ...(o.attestations === undefined ? {} : { attestations: readAttestationLists(request, o.attestations, 'attestations') }),
    ...(o.catchUp === undefined ? {} : { catchUp: catchUp(o.catchUp, 'catchUp') }),
  };
}

/** POST /v1/checkpoint: a checkpoint of this witness's head to cosign (docs/transparency.md). */
export interface CheckpointRequest {
  checkpoint: string;
}

/** The cosignature line's name and base64 value (key ID || time || signature). */
export interface CheckpointAnswer {
  name: string;
  signature: string;
}

export function parseCheckpointRequest(value: unknown): CheckpointRequest {
  const o = request.exact(value, 'checkpoint request', ['checkpoint']);
  return { checkpoint: request.string(o.checkpoint, 'checkpoint', WIRE_LIMITS.maxCheckpointChars, { min: 1 }) };
}

export function parseCheckpointAnswer(value: unknown): CheckpointAnswer {
  const o = answer.object(value, 'checkpoint answer');
  return { name: answer.string(o.name, 'name', 256, { min: 1 }), signature: answer.string(o.signature, 'signature', 256, { min: 1, pattern: /^[A-Za-z0-9+/]+={0,2}$/, expected: 'base64' }) };
}

export function parseRespondRequest(value: unknown): RespondRequest {
  const o = request.exact(value, 'respond request', ['session', 'nonceId', 'rosterHash', 'R1', 'R2', 'bitmap', 'message']);
  return {
    session: id(o.session, 'session'),
    nonceId: id(o.nonceId, 'nonceId'),
    rosterHash: request.hex(o.rosterHash, 'rosterHash'),
    R1: request.hex(o.R1, 'R1'),
    R2: request.hex(o.R2, 'R2'),
    bitmap: request.hexUpTo(o.bitmap, 'bitmap', 1250),
    message: request.hexUpTo(o.message, 'message', WIRE_LIMITS.maxMessageBytes),
  };
}

// ---- answers, as a leader reads them (also untrusted; unknown fields are ignored) -----------

function headRef(value: unknown, what: string): HeadRef {
  const o = answer.object(value, what);
  return { index: answer.integer(o.index, `${what}.index`), hash: answer.hex(o.hash, `${what}.hash`) };
}

/** Parses GET /v1/info (throws a plain Error; the client wraps it as BAD_ANSWER). */
export function parseInfoAnswer(value: unknown): InfoAnswer {
  const o = answer.object(value, 'info');
  let state: StateSummary | null = null;
  if (o.state !== null && o.state !== undefined) {
    const s = answer.object(o.state, 'info.state');
    const roles: Record<string, number> = {};
    for (const [k, v] of answer.entries(s.roles, 'info.state.roles', WIRE_LIMITS.maxDocuments, MAX_ROLE_NAME_CHARS)) roles[k] = answer.integer(v, `info.state.roles.${k}`);
    state = { index: answer.integer(s.index, 'info.state.index'), root: answer.integer(s.root, 'info.state.root'), snapshot: answer.integer(s.snapshot, 'info.state.snapshot'), roles };
  }
  return {
    name: answer.string(o.name, 'info.name', 64),
    key: answer.string(o.key, 'info.key', 64),
    pop: answer.string(o.pop, 'info.pop', 128),
    address: answer.string(o.address, 'info.address', 512),
    chain: o.chain === null ? null : answer.string(o.chain, 'info.chain', 64),
    head: o.head === null ? null : headRef(o.head, 'info.head'),
    state,
  };
}

export function parseCommitAnswer(value: unknown): CommitAnswer {
  const o = answer.object(value, 'commit answer');
  const notes = o.notes === undefined ? undefined : answer.array(o.notes, 'notes', WIRE_LIMITS.maxNotes).map((n, i) => answer.string(n, `notes[${i}]`, WIRE_LIMITS.maxNoteChars));
  return { nonceId: answer.string(o.nonceId, 'nonceId', WIRE_LIMITS.maxIdLength), R1: answer.hex(o.R1, 'R1'), R2: answer.hex(o.R2, 'R2'), ...(notes === undefined ? {} : { notes }) };
}

export function parseRespondAnswer(value: unknown): RespondAnswer {
  return { s: answer.hex(answer.object(value, 'respond answer').s, 's') };
}

export function parseGenesisAnswer(value: unknown): GenesisAnswer {
  return { head: headRef(answer.object(value, 'genesis answer').head, 'head') };
}
