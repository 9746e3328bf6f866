// repo/signatures.ts: signing staged metadata and counting signatures against a role's keys and
// threshold (TUF spec 1.0.x 4.2 "signatures", 5.3.4 / 5.3.5 for root, 5.6.3 for delegations).
// Pure functions over Metadata objects; a signature counts only when its key is one of the role's
// keys and it verifies over the canonical `signed` bytes, and one key listed under two key IDs
// counts once toward the threshold, as clients count it (docs/protocol.md "Distinct keys").
import { Signature } from '@tufjs/models';
import { keyMaterialId, verifySignature, type TufPublicKey } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { short } from '../errors/index.js';
import { RepoError } from './errors.js';
import { signedBytes, type AnyMetadata } from './metadata-file.js';

/** The keys allowed to sign one role and how many of them must. */
export interface RoleKeys {
  keyids: string[];
  threshold: number;
  keys: Record<string, TufPublicKey>;
}

export interface SignatureReport {
  role: string;
  version: number;
  threshold: number;
  /** Keys of the role with a valid signature. */
  valid: string[];
  /** How many distinct keys (by key material) those are: what the threshold counts. */
  distinctKeys: number;
  /** Keys of the role with no signature, or a signature that does not verify. */
  missing: string[];
  /** Signatures present that do not count: unknown key, or not verifying. */
  ignored: string[];
  met: boolean;
}

export function evaluateSignatures(role: string, md: AnyMetadata, roleKeys: RoleKeys, bytes: Buffer = signedBytes(md)): SignatureReport {
  const valid: string[] = [];
  const missing: string[] = [];
  const authorized = new Set(roleKeys.keyids);
  for (const keyid of roleKeys.keyids) {
    const sig = md.signatures[keyid];
    const key = roleKeys.keys[keyid];
    let ok = false;
    if (sig !== undefined && key !== undefined) {
      try {
        ok = verifySignature(key, bytes, sig.sig);
      } catch {
        ok = false; // an unusable key never counts
      }
    }
    (ok ? valid : missing).push(keyid);
  }
  const ignored = Object.keys(md.signatures).filter((k) => !authorized.has(k) || !valid.includes(k));
  const distinctKeys = new Set(valid.map((keyid) => keyMaterialId(roleKeys.keys[keyid]!))).size;
  return { role, version: md.signed.version, threshold: roleKeys.threshold, valid, distinctKeys, missing, ignored, met: distinctKeys >= roleKeys.threshold };
}

/** Throws THRESHOLD_NOT_MET naming the role, found and needed signatures and the keys missing. */
export function requireThreshold(report: SignatureReport, context = ''): void {
  if (report.met) return;
  throw new RepoError(
    'THRESHOLD_NOT_MET',
    `${report.role} version ${report.version}${context} has ${report.distinctKeys} valid signature(s)${report.distinctKeys < report.valid.length ? ` from distinct keys (${report.valid.length} key IDs)` : ''}, needs ${report.threshold}; ` +
      `missing keyids: ${report.missing.map((k) => short(k)).join(', ') || '(none)'}`,
    { hint: `run: cairn repo sign DIR --role ${report.role} --key FILE  (once per missing key holder)` },
  );
}

/** Adds `signer`'s signature over `md` (replacing an older one by the same key). */
export function addSignature(md: AnyMetadata, signer: Signer, bytes: Buffer = signedBytes(md)): Signature {
  const signature = new Signature({ keyID: signer.keyid, sig: signer.sign(bytes) });
  md.signatures[signer.keyid] = signature;
  return signature;
}

/** Refuses a signer that is not one of `allowed` (a key outside the role never signs for it). */
export function requireAuthorized(role: string, signer: Signer, allowed: ReadonlySet<string>): void {
  if (!allowed.has(signer.keyid)) {
    throw new RepoError('KEY_NOT_AUTHORIZED', `key ${short(signer.keyid)} is not a key of role ${role}`, {
      hint: `check the key file; cairn repo status DIR lists the keyids of each role`,
    });
  }
}
