// log/cosi-adapter.ts: the one place where the log layer meets collective signatures
// (docs/protocol.md sections 1-5; src/cosi). The log keeps rosters and collective signatures in
// their JSON form (as they appear in blocks and log files) and needs: the roster hash, strict
// acceptance of a roster (cosi's acceptRoster: keys, proofs of possession, threshold), the
// acceptance of a roster vouched for by a verified forward link (cosi's acceptVouchedRoster;
// protocol.md 5, "Vouched rosters"), a shape-only parse of a collective signature (its exact
// check needs the roster, at verification), the domain-separated message, and verification at
// the roster's threshold. Verification takes a roster as JSON (accepted in full here) or one
// already accepted or vouched for (a DecodedRoster).
// cosi's errors become LogErrors here, so that callers of src/log see one error family:
// THRESHOLD_NOT_MET passes through by code, a bad roster is UNKNOWN_ROSTER, anything else about
// a signature is BAD_COSIGNATURE (callers rename it for their statement, e.g. BAD_FORWARD_LINK).
import {
  acceptRoster as cosiAcceptRoster,
  acceptVouchedRoster as cosiAcceptVouchedRoster,
  cosiMessage as cosiMessageBytes,
  CosiError,
  decodeBitmap,
  DecodedRoster,
  participantIndices,
  ROSTER_LIMITS,
  rosterHash as cosiRosterHash,
  verifyCollectiveSignature as cosiVerify,
  type AcceptedRoster,
  type CollectiveSignatureJson,
  type Roster,
  type RosterVouch,
  type RosterWitness,
  type VerifiedCollectiveSignature,
  type VouchedRoster,
} from '../cosi/index.js';
import { LogError } from './errors.js';
import { LOG_FILE_LIMITS, logReader } from './schema.js';
import { parseJsonObject } from '../encoding/bounded-json.js';

export type { DecodedRoster, Roster, RosterVouch, RosterWitness, VerifiedCollectiveSignature };

/** A collective signature as log files carry it (protocol.md section 3): lowercase hex. */
export type CollectiveSignature = CollectiveSignatureJson;

/** `hex(H(canonical(roster)))` (protocol.md section 4). */
export function rosterHash(roster: Roster | DecodedRoster): string {
  return roster instanceof DecodedRoster ? roster.hash : cosiRosterHash(roster);
}

/** `context || 0x00 || canonical(statement)` (protocol.md section 2). */
export function cosiMessage(context: string, statement: unknown): Uint8Array {
  return cosiMessageBytes(context, statement);
}

function asLogError<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof CosiError) throw new LogError('UNKNOWN_ROSTER', `${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Accepts an untrusted roster with every check (protocol.md sections 1 and 4): exact shape,
 * valid distinct keys with valid proofs of possession, 1 <= threshold <= witnesses. Throws
 * LogError('UNKNOWN_ROSTER').
 */
export function acceptRoster(value: unknown, what = 'roster'): AcceptedRoster {
  return asLogError(what, () => cosiAcceptRoster(value as Roster));
}

/**
 * Accepts an untrusted roster that a verified forward link vouches for (protocol.md 5,
 * "Vouched rosters"): its hash must be the one `vouch` names; shape, threshold, distinct keys
 * and canonical key encodings are checked, key subgroup membership and proofs of possession are
 * not (the vouching roster's honest members checked them). `vouch` comes only from
 * verifyForwardLinkStep. Throws LogError('UNKNOWN_ROSTER').
 */
export function acceptVouchedRoster(value: unknown, vouch: RosterVouch, what = 'roster'): VouchedRoster {
  return asLogError(what, () => cosiAcceptVouchedRoster(value as Roster, vouch));
}

/**
 * Parses and accepts an untrusted roster with every check (acceptRoster). Returns the plain
 * roster (cosi caches the decoded keys by roster hash). Throws LogError('UNKNOWN_ROSTER').
 */
export function parseRoster(value: unknown, what = 'roster'): Roster {
  return acceptRoster(value, what).roster;
}

/** A roster file (protocol.md section 7) parsed with the log's caps and accepted in full. */
export function parseRosterBytes(bytes: Uint8Array, what = 'roster'): Roster {
  return parseRoster(parseJsonObject(bytes, what, LOG_FILE_LIMITS.roster), what);
}

/** Parses an untrusted `{ bitmap, signature }` for its shape only (protocol.md section 3). */
export function parseCollectiveSignature(value: unknown, what = 'collective signature'): CollectiveSignature {
  const r = logReader('BAD_COSIGNATURE', what);
  const o = r.exact(value, '', ['bitmap', 'signature']);
  return { bitmap: r.hexUpTo(o.bitmap, 'bitmap', Math.ceil(ROSTER_LIMITS.maxWitnesses / 8), 1), signature: r.hex(o.signature, 'signature', 64) };
}

/** Roster positions set in a (well-formed) bitmap. Throws LogError('BAD_COSIGNATURE'). */
export function participants(roster: Roster, cosig: CollectiveSignature): number[] {
  try {
    return participantIndices(decodeBitmap(cosig.bitmap, roster.witnesses.length));
  } catch (e) {
    if (e instanceof CosiError) throw new LogError('BAD_COSIGNATURE', e.message, { cause: e });
    throw e;
  }
}

/**
 * Verifies `cosig` as a collective signature of `roster` over `message` (protocol.md section 3):
 * exact bitmap, at least `threshold` participants, one Ed25519 verification under the sum of
 * their keys. A roster in JSON form is accepted in full first. Returns what the verification
 * established (participants' positions, threshold, roster hash); throws LogError
 * THRESHOLD_NOT_MET | BAD_COSIGNATURE | UNKNOWN_ROSTER.
 */
export function verifyCollectiveSignature(roster: Roster | DecodedRoster, message: Uint8Array, cosig: CollectiveSignature): VerifiedCollectiveSignature {
  const decoded = roster instanceof DecodedRoster ? roster : acceptRoster(roster, 'roster');
  try {
    return cosiVerify(decoded, message, cosig);
  } catch (e) {
    if (e instanceof CosiError) throw new LogError(e.code === 'THRESHOLD_NOT_MET' ? 'THRESHOLD_NOT_MET' : 'BAD_COSIGNATURE', e.message, { cause: e });
    throw e;
  }
}
