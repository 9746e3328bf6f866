// log/roster-authorization.ts: the root role's consent to a roster (docs/protocol.md section 4;
// docs/design.md "Roles": root key holders rotate the witness roster). A roster comes into force at
// a block only with TUF-style signatures by at least the root threshold of the root keys in
// force at that block, over
//   "cairn/v1/roster-authorization" || 0x00 || canonical({ chain, index, roster: roster hash }).
// Counting follows TUF (spec 5.3/5.4): each root key counts once, unknown key IDs are ignored.
//
// Root keys stay offline with separate holders (docs/cli.md "Roster changes with offline root
// keys"): the publisher writes a RosterAuthorizationRequest (chain, index and the full roster),
// each holder signs it on their own machine into a detached signature file
// (crypto/detached-signature.ts, role `roster-authorization`, version = block index), and the
// publisher merges the files: each must cover exactly this request and come from a root key
// in force, and together they must meet the root threshold.
import { signDetached, type DetachedSignature } from '../crypto/detached-signature.js';
import { sha256Hex } from '../crypto/hash.js';
import { distinctValidSigners, verifySignature, type TufPublicKey } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { short } from '../errors/index.js';
import { cosiMessage, parseRoster, rosterHash, type Roster } from './cosi-adapter.js';
import { LogError } from './errors.js';
import type { FieldReader } from '../encoding/field-reader.js';
import { LOG_FILE_LIMITS, logReader } from './schema.js';

export const ROSTER_AUTHORIZATION_CONTEXT = 'cairn/v1/roster-authorization';

/** A TUF signature (`{ keyid, sig }`, TUF spec 4.2). */
export interface TufSignature {
  keyid: string;
  sig: string;
}

/** The root role in force at a block: its keys by key ID and its threshold. */
export interface RootRole {
  keys: Record<string, TufPublicKey>;
  threshold: number;
}

/** What an authorization is about: a roster hash at one index of one chain. */
export interface RosterAuthorizationStatement {
  /**
   * The chain ID (genesis block hash); for the genesis block itself, whose hash does not exist
   * before it is signed, genesisAuthorizationChain of the root it records.
   */
  chain: string;
  index: number;
  /** Hash of the authorized roster. */
  roster: string;
}

/**
 * The `chain` of a genesis block's authorization: the repository, named by the sha256 of the root
 * document its genesis records (payload.root.sha256). Root keys that govern several repositories
 * thus authorize the first roster of one log only (docs/protocol.md section 4).
 */
export function genesisAuthorizationChain(rootSha256: string): string {
  return `genesis-of-root:${rootSha256}`;
}

const GENESIS_CHAIN = /^genesis-of-root:[0-9a-f]{64}$/;

/** How root key holders authorize a roster without bringing their keys together (docs/cli.md). */
export const OFFLINE_SIGNING_HINT = 'write the request with cairn log roster REPO --witness URL... --prepare DOC (cairn log init for a new log), ' +
  'have each root key holder sign it on their machine with cairn log sign-roster DOC --key ROOTKEY --out SIG, ' +
  'then run cairn log roster REPO --authorization DOC --signature SIG... (or cairn log init)';

/** Most signatures accepted in one authorization (a root role of more keys is not plausible). */
const MAX_AUTHORIZATION_SIGNATURES = 256;

/** The exact bytes the root keys sign. */
function rosterAuthorizationMessage(statement: RosterAuthorizationStatement): Uint8Array {
  return cosiMessage(ROSTER_AUTHORIZATION_CONTEXT, { chain: statement.chain, index: statement.index, roster: statement.roster });
}

/** Signs a roster authorization with each of `signers` (root key holders). */
export function createRosterAuthorization(signers: readonly Signer[], statement: RosterAuthorizationStatement): TufSignature[] {
  const message = rosterAuthorizationMessage(statement);
  return signers.map((s) => ({ keyid: s.keyid, sig: s.sign(message) }));
}

/**
 * Verifies that `authorization` carries valid signatures by at least `root.threshold` distinct
 * root keys over `statement`. Returns the key IDs that counted; throws
 * LogError('ROSTER_NOT_AUTHORIZED') otherwise.
 */
export function verifyRosterAuthorization(
  authorization: readonly TufSignature[],
  statement: RosterAuthorizationStatement,
  root: RootRole,
): string[] {
  if (!Number.isSafeInteger(root.threshold) || root.threshold < 1) {
    throw new LogError('ROSTER_NOT_AUTHORIZED', `root threshold ${root.threshold} is not a positive integer`);
  }
  // Root keys by key material: one key listed under two key IDs counts once (docs/protocol.md "Distinct keys").
  const counted = distinctValidSigners(
    authorization.filter(({ keyid }) => Object.hasOwn(root.keys, keyid)).map(({ keyid, sig }) => ({ keyid, key: root.keys[keyid]!, sig })),
    rosterAuthorizationMessage(statement),
  );
  if (counted.length < root.threshold) {
    throw new LogError(
      'ROSTER_NOT_AUTHORIZED',
      `roster ${statement.roster.slice(0, 12)} at index ${statement.index} is authorized by ${counted.length} root keys, the root role needs ${root.threshold}`,
      { hint: OFFLINE_SIGNING_HINT },
    );
  }
  return counted;
}

/** Parses an untrusted authorization (`[{ keyid, sig }]`); `reader` throws the error of the format that carries it. */
export function parseAuthorization(value: unknown, reader: FieldReader): TufSignature[] {
  const list = reader.array(value, 'authorization', MAX_AUTHORIZATION_SIGNATURES);
  return list.map((entry, i) => {
    const o = reader.exact(entry, `authorization[${i}]`, ['keyid', 'sig']);
    return { keyid: reader.hex(o.keyid, `authorization[${i}].keyid`, 32), sig: reader.hexUpTo(o.sig, `authorization[${i}].sig`, 1024, 1) };
  });
}

export const ROSTER_AUTHORIZATION_REQUEST_FORMAT = 'cairn/roster-authorization-request/v1';
/** The `role` of a detached signature over a roster authorization; its `version` is the block index. */
export const ROSTER_AUTHORIZATION_ROLE = 'roster-authorization';

/** What root key holders sign offline: the roster of a block at one index of one chain. */
export interface RosterAuthorizationRequest {
  format: typeof ROSTER_AUTHORIZATION_REQUEST_FORMAT;
  /** The chain ID; for a new log's genesis block, genesisAuthorizationChain of the repository's root. */
  chain: string;
  index: number;
  /** The full roster (names, keys, proofs of possession, addresses, threshold), for the holders to read. */
  roster: Roster;
}

/** The statement a request asks the root keys to sign. */
export function requestStatement(request: RosterAuthorizationRequest): RosterAuthorizationStatement {
  return { chain: request.chain, index: request.index, roster: rosterHash(request.roster) };
}

/** Largest request document: a roster at its caps and the few fields around it. */
export const ROSTER_AUTHORIZATION_REQUEST_MAX_BYTES = LOG_FILE_LIMITS.roster.maxBytes + 4096;

/** Parses an untrusted request document (LogError BAD_AUTHORIZATION for a malformed one). */
export function parseRosterAuthorizationRequest(bytes: Uint8Array | string, what: string): RosterAuthorizationRequest {
  const limits = LOG_FILE_LIMITS.roster;
  const j = parseJsonObject(bytes, what, { ...limits, maxBytes: ROSTER_AUTHORIZATION_REQUEST_MAX_BYTES, maxDepth: limits.maxDepth + 1 });
  const r = logReader('BAD_AUTHORIZATION', what);
  const o = r.exact(j, '', ['format', 'chain', 'index', 'roster']);
  const index = r.integer(o.index, 'index');
  const chain = index === 0
    ? r.string(o.chain, 'chain', 80, { pattern: GENESIS_CHAIN, expected: 'genesis-of-root: and the sha256 of the repository\'s root (a genesis request)' })
    : r.hex(o.chain, 'chain');
  let roster: Roster;
  try {
    roster = parseRoster(o.roster, `${what}: roster`);
  } catch (e) {
    throw new LogError('BAD_AUTHORIZATION', `${what}: ${(e as Error).message}`, { cause: e });
  }
  return { format: r.literal(o.format, 'format', ROSTER_AUTHORIZATION_REQUEST_FORMAT), chain, index, roster };
}

/** `cairn log sign-roster`: a root key holder's detached signature over a request. */
export function signRosterAuthorizationRequest(request: RosterAuthorizationRequest, signer: Signer): DetachedSignature {
  return signDetached(signer, rosterAuthorizationMessage(requestStatement(request)), { role: ROSTER_AUTHORIZATION_ROLE, version: request.index });
}

/**
 * The authorization of `request` from detached signatures: each must cover exactly this request
 * (else STALE_AUTHORIZATION), be by a key of `root` and verify (else ROSTER_NOT_AUTHORIZED), and
 * together they must meet the root threshold. Returns the signatures to put in the block.
 */
export function collectRosterAuthorization(request: RosterAuthorizationRequest, signatures: readonly DetachedSignature[], root: RootRole): TufSignature[] {
  const statement = requestStatement(request);
  const message = rosterAuthorizationMessage(statement);
  const digest = sha256Hex(message);
  const authorization: TufSignature[] = [];
  for (const s of signatures) {
    if (s.role !== ROSTER_AUTHORIZATION_ROLE || s.version !== request.index || s.signed_sha256 !== digest) {
      throw new LogError('STALE_AUTHORIZATION', `the signature by ${short(s.keyid)} covers ${s.role} ${s.version} (${short(s.signed_sha256)}), not this request: roster authorization of block ${request.index} (${short(digest)})`, {
        hint: 'have the key holder sign this very request: cairn log sign-roster DOC --key ROOTKEY --out SIG',
      });
    }
    const key = Object.hasOwn(root.keys, s.keyid) ? root.keys[s.keyid] : undefined;
    if (key === undefined) {
      throw new LogError('ROSTER_NOT_AUTHORIZED', `key ${short(s.keyid)} is not a key of the root role in force: it cannot authorize a roster`, { hint: 'only root key holders sign roster changes (cairn log sign-roster DOC --key ROOTKEY --out SIG)' });
    }
    let ok = false;
    try {
      ok = verifySignature(key, message, s.sig);
    } catch {
      ok = false;
    }
    if (!ok) throw new LogError('ROSTER_NOT_AUTHORIZED', `the signature by root key ${short(s.keyid)} does not verify over the roster authorization of block ${request.index}`);
    if (!authorization.some((a) => a.keyid === s.keyid)) authorization.push({ keyid: s.keyid, sig: s.sig }); // each root key counts once
  }
  verifyRosterAuthorization(authorization, statement, root);
  return authorization;
}
