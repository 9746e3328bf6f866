// log/equivocation.ts: proofs of misbehaviour (docs/protocol.md section 5 "Equivocation proof";
// docs/design.md "Skipchain release log"; CHAINIAC section 4: a witness never co-signs two different blocks at
// one index of one chain). A co-signed forward link says "block toIndex of chain C is `to`"; a
// co-signed head statement says "block index of chain C is `hash`". Two such claims for the same
// chain and index with different hashes, each carrying a valid collective signature, prove that
// every witness present in both signatures misbehaved. Anyone can check a proof: it carries the
// rosters it was signed with, so it needs nothing else.
import { parseCollectiveSignature, parseRoster, participants, rosterHash, verifyCollectiveSignature, type CollectiveSignature, type Roster } from './cosi-adapter.js';
import { LogError } from './errors.js';
import { forwardLinkMessage, parseForwardLink, type ForwardLink } from './forward-link.js';
import { headMessage, parseHeadStatement, type HeadStatement } from './head.js';
import { logReader } from './schema.js';

export const EQUIVOCATION_PROOF_TYPE = 'cairn/v1/equivocation-proof';

/** A co-signed claim about which block sits at one index. */
export type SignedClaim =
  | { kind: 'forward-link'; link: ForwardLink; cosignature: CollectiveSignature; roster: Roster }
  | { kind: 'head'; statement: HeadStatement; cosignature: CollectiveSignature; roster: Roster };

export interface EquivocationProof {
  type: typeof EQUIVOCATION_PROOF_TYPE;
  first: SignedClaim;
  second: SignedClaim;
}

/** A witness proven to have signed both claims, named by its key. */
export interface Culprit {
  name: string;
  key: string;
}

export interface Misbehaviour {
  chain: string;
  index: number;
  /** The two block hashes claimed for `index`. */
  hashes: [string, string];
  /** Witnesses (by key) whose participation is in both collective signatures. */
  culprits: Culprit[];
}

/** The (chain, index, hash) a claim asserts. */
function claimOf(claim: SignedClaim): { chain: string; index: number; hash: string } {
  return claim.kind === 'forward-link'
    ? { chain: claim.link.chain, index: claim.link.toIndex, hash: claim.link.to }
    : { chain: claim.statement.chain, index: claim.statement.index, hash: claim.statement.hash };
}

/** Builds a proof from two claims, and checks it (throws NOT_EQUIVOCATION if it proves nothing). */
export function buildEquivocationProof(first: SignedClaim, second: SignedClaim): EquivocationProof {
  const proof: EquivocationProof = { type: EQUIVOCATION_PROOF_TYPE, first, second };
  verifyEquivocationProof(proof);
  return proof;
}

export interface EquivocationCheckOptions {
  /** Roster hashes the checker knows belong to the chain; when given, claims by others are refused. */
  knownRosters?: ReadonlySet<string>;
}

/**
 * Verifies a proof of misbehaviour: both claims are about the same chain and index, name
 * different blocks, each carries a valid collective signature at its roster's threshold, and at
 * least one witness key participated in both. Returns what was proven; throws
 * LogError('NOT_EQUIVOCATION') when the proof does not prove equivocation, UNKNOWN_ROSTER when a
 * roster is not among `knownRosters`.
 */
export function verifyEquivocationProof(proof: EquivocationProof, options: EquivocationCheckOptions = {}): Misbehaviour {
  const p = parseEquivocationProof(proof);
  const a = claimOf(p.first);
  const b = claimOf(p.second);
  const refuse = (why: string): LogError => new LogError('NOT_EQUIVOCATION', `not a proof of equivocation: ${why}`);
  if (a.chain !== b.chain) throw refuse(`the claims are about different chains (${a.chain.slice(0, 12)}, ${b.chain.slice(0, 12)})`);
  if (a.index !== b.index) throw refuse(`the claims are about different indices (${a.index}, ${b.index})`);
  if (a.hash === b.hash) throw refuse(`both claims name the same block ${a.hash.slice(0, 12)} at index ${a.index}`);
  const signers = [p.first, p.second].map((claim, n) => {
    if (options.knownRosters !== undefined && !options.knownRosters.has(rosterHash(claim.roster))) {
      throw new LogError('UNKNOWN_ROSTER', `claim ${n + 1} is signed by roster ${rosterHash(claim.roster).slice(0, 12)}, which is not a roster of this chain`);
    }
    const message = claim.kind === 'forward-link' ? forwardLinkMessage(claim.link) : headMessage(claim.statement);
    try {
      verifyCollectiveSignature(claim.roster, message, claim.cosignature);
    } catch (e) {
      if (e instanceof LogError) throw refuse(`claim ${n + 1}: ${e.message}`);
      throw e;
    }
    return new Map(participants(claim.roster, claim.cosignature).map((i) => [claim.roster.witnesses[i]!.key, claim.roster.witnesses[i]!.name]));
  });
  const culprits: Culprit[] = [];
  for (const [key, name] of signers[0]!) if (signers[1]!.has(key)) culprits.push({ name, key });
  if (culprits.length === 0) throw refuse('no witness signed both claims');
  return { chain: a.chain, index: a.index, hashes: [a.hash, b.hash], culprits };
}

/** Parses an untrusted proof (for example one received from another client). */
export function parseEquivocationProof(value: unknown, what = 'equivocation proof'): EquivocationProof {
  const r = logReader('NOT_EQUIVOCATION', what);
  const o = r.exact(value, '', ['type', 'first', 'second']);
  const claim = (v: unknown, name: string): SignedClaim => {
    const c = r.exact(v, name, ['kind', 'cosignature', 'roster', ...(isRecord(v) && v.kind === 'head' ? ['statement'] : ['link'])]);
    const cosignature = parseCollectiveSignature(c.cosignature, `${what} ${name} cosignature`);
    const roster = parseRoster(c.roster, `${what} ${name} roster`);
    if (c.kind === 'head') return { kind: 'head', statement: parseHeadStatement(c.statement, `${what} ${name} statement`), cosignature, roster };
    r.literal(c.kind, `${name}.kind`, 'forward-link');
    return { kind: 'forward-link', link: parseForwardLink(c.link, `${what} ${name} link`), cosignature, roster };
  };
  return { type: r.literal(o.type, 'type', EQUIVOCATION_PROOF_TYPE), first: claim(o.first, 'first'), second: claim(o.second, 'second') };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
