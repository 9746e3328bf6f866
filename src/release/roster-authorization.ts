// release/roster-authorization.ts: who authorizes the roster of a new log (`cairn log init`) or of
// a roster change (`cairn log roster`) (docs/protocol.md section 4; docs/cli.md "Roster changes
// with offline root keys"). Root keys are meant to stay offline with separate holders, so besides
// root key files at hand (each signs here) an authorization can come as a request prepared here
// (--prepare: chain, index and the roster the witnesses describe) and the detached signatures the
// holders made of it on their own machines (`cairn log sign-roster`). Either way every signature
// is checked here, against the root role of the published state, before anything is written:
// it must cover exactly the request for the block the log needs next and come from a root key,
// and together they must meet the root threshold.
import { readDetachedSignatureFiles, writeDetachedSignatureFile, type DetachedSignature } from '../crypto/detached-signature.js';
import type { Signer } from '../crypto/signer.js';
import { short } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import {
  collectRosterAuthorization, LogError, parseRosterAuthorizationRequest, ROSTER_AUTHORIZATION_REQUEST_FORMAT, ROSTER_AUTHORIZATION_REQUEST_MAX_BYTES, signRosterAuthorizationRequest,
  type RootRole, type Roster, type RosterAuthorizationRequest, type TufSignature,
} from '../log/index.js';
import { parseEnvelope, rootRoleOf } from '../tuf/index.js';
import type { ReleaseDocumentSource } from './documents.js';
import type { LogLeader } from './leader.js';
import { rosterOfWitnesses } from './witness-connection.js';

/** Who authorizes a roster: root key files at hand, and/or a prepared request with the holders' signature files. */
export interface RosterAuthority {
  /** Witness addresses of the roster, in order (not with `request`: the request holds the roster). */
  witnesses?: readonly string[];
  /** Co-signers the roster needs (with `witnesses`; default defaultWitnessThreshold). */
  threshold?: number;
  /** Root keys at hand: each signs the authorization here. */
  rootSigners?: readonly Signer[];
  /** A request written by `--prepare` (writeRosterRequest). */
  request?: string;
  /** Detached signature files over `request` (`cairn log sign-roster`). */
  signatures?: readonly string[];
}

/** Where the roster goes: the chain and the index of its block. */
export interface RosterPosition {
  chain: string;
  index: number;
}

/** Co-signers a roster of `n` witnesses needs by default: more than two thirds. */
export function defaultWitnessThreshold(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

/** The position of the next roster block of `leader`'s log: after a saved release that extends the head, if any. */
export async function nextRosterPosition(leader: LogLeader): Promise<RosterPosition> {
  const proposal = await leader.savedProposal();
  const pending = proposal !== undefined && proposal.hash !== leader.head.hash && proposal.block.index === leader.head.index + 1;
  return { chain: leader.chain, index: leader.head.index + (pending ? 2 : 1) };
}

/** The root role of a state: the role whose threshold authorizes its rosters. */
export async function rootRoleOfSource(source: ReleaseDocumentSource): Promise<RootRole> {
  return rootRoleOf(parseEnvelope('root', await source.root(source.rootVersion), `${source.rootVersion}.root.json`));
}

/** The request for `position` with the roster of the given witnesses (each describes itself, GET /v1/info). */
export async function rosterRequest(witnesses: readonly string[], threshold: number, position: RosterPosition, timeoutMs: number): Promise<RosterAuthorizationRequest> {
  const roster = await rosterOfWitnesses(witnesses, threshold, timeoutMs);
  return { format: ROSTER_AUTHORIZATION_REQUEST_FORMAT, chain: position.chain, index: position.index, roster };
}

/** `--prepare OUT`: writes the request root key holders sign offline (compact: a roster at its caps fits the reader's cap; `cairn log sign-roster` shows it). */
export async function writeRosterRequest(request: RosterAuthorizationRequest, out: string): Promise<void> {
  await writeFileAtomic(out, JSON.stringify(request) + '\n');
}

async function readRosterRequest(file: string): Promise<RosterAuthorizationRequest> {
  return parseRosterAuthorizationRequest(await readCappedFile(file, ROSTER_AUTHORIZATION_REQUEST_MAX_BYTES, { what: `roster authorization request ${file}`, refuse: tooLargeIsFormatError }), file);
}

const badSignatureFile = (message: string): LogError => new LogError('BAD_AUTHORIZATION', message);

/**
 * The roster and its checked authorization for the block at `position`: from the request file and
 * its signature files (plus any root keys at hand), or from the witnesses and the root keys at
 * hand. Throws LogError (STALE_AUTHORIZATION, ROSTER_NOT_AUTHORIZED, BAD_AUTHORIZATION) having
 * written nothing.
 */
export async function authorizedRoster(authority: RosterAuthority, position: RosterPosition, root: RootRole, timeoutMs: number): Promise<{ roster: Roster; authorization: TufSignature[] }> {
  let request: RosterAuthorizationRequest;
  if (authority.request !== undefined) {
    request = await readRosterRequest(authority.request);
    if (request.chain !== position.chain || request.index !== position.index) {
      const where = (p: RosterPosition): string => (p.index === 0 ? 'the genesis block of a new log' : `block ${p.index} of chain ${short(p.chain)}`);
      throw new LogError('STALE_AUTHORIZATION', `${authority.request} requests the roster of ${where(request)}, the log needs ${where(position)}`, {
        hint: 'the log moved on since the request was prepared: prepare it again (--prepare DOC) and have it signed again',
      });
    }
  } else {
    const witnesses = authority.witnesses ?? [];
    request = await rosterRequest(witnesses, authority.threshold ?? defaultWitnessThreshold(witnesses.length), position, timeoutMs);
  }
  const detached: DetachedSignature[] = [
    ...(await readDetachedSignatureFiles(authority.signatures ?? [], badSignatureFile)),
    ...(authority.rootSigners ?? []).map((s) => signRosterAuthorizationRequest(request, s)),
  ];
  return { roster: request.roster, authorization: collectRosterAuthorization(request, detached, root) };
}

/** `cairn log sign-roster DOC --key ROOTKEY --out SIG`: a root key holder's signature over a request, on their own machine. */
export async function signRosterRequestFile(requestFile: string, signer: Signer, out: string): Promise<{ request: RosterAuthorizationRequest; signature: DetachedSignature }> {
  const request = await readRosterRequest(requestFile);
  const signature = signRosterAuthorizationRequest(request, signer);
  await writeDetachedSignatureFile(out, signature);
  return { request, signature };
}
