// repo/signing.ts: threshold signing by separate key holders (TUF spec 1.0.x 4.2, 6.1). Staged
// metadata is signed in place with one key file (repo sign), or a detached signature file is
// produced by a holder who has only the staged metadata and merged by whoever prepares the
// release. A signature is accepted only from a key of the role (for root: of the new or the
// previously published root) and only if it verifies over the staged `signed` bytes.
import { Signature } from '@tufjs/models';
import {
  parseDetachedSignature as parseSignatureFile, readDetachedSignatureFiles, signDetached as signBytesDetached, writeDetachedSignatureFile, type DetachedSignature,
} from '../crypto/detached-signature.js';
import { sha256Hex } from '../crypto/hash.js';
import { verifySignature } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { short } from '../errors/index.js';
import { RepoError } from './errors.js';
import { signedBytes, type AnyMetadata } from './metadata-file.js';
import { addSignature, evaluateSignatures, requireAuthorized, type RoleKeys, type SignatureReport } from './signatures.js';
import type { Workspace as WorkspaceType } from './workspace.js';
import { Workspace } from './workspace.js';

export { SIGNATURE_FORMAT, type DetachedSignature } from '../crypto/detached-signature.js';

const badSignature = (message: string): RepoError => new RepoError('BAD_SIGNATURE', message);

async function signableRole(ws: WorkspaceType, role: string): Promise<AnyMetadata> {
  if (role === 'snapshot' || role === 'timestamp') {
    throw new RepoError('UNKNOWN_ROLE', `${role} is signed when publishing`, { hint: `run: cairn repo publish DIR --key FILE` });
  }
  return ws.role(role);
}

/** Signature reports of a role: for root, against the new root and the previously published one. */
export async function signatureReports(ws: WorkspaceType, role: string, md?: AnyMetadata): Promise<SignatureReport[]> {
  const meta = md ?? (await ws.role(role));
  const bytes = signedBytes(meta);
  const reports = [evaluateSignatures(role, meta, await ws.roleKeys(role), bytes)];
  if (role === 'root') {
    const old = await ws.publishedRoot();
    if (old && old.signed.version < meta.signed.version) {
      reports.push(evaluateSignatures(`root (by root version ${old.signed.version})`, meta, await ws.roleKeys('root', old), bytes));
    }
  }
  return reports;
}

/** Signs the staged `role` with each signer (each must be a key of the role). */
export async function signRole(dir: string, role: string, signers: readonly Signer[]): Promise<SignatureReport[]> {
  const ws = await Workspace.open(dir);
  const md = await signableRole(ws, role);
  const allowed = await ws.signingKeyids(role);
  for (const s of signers) requireAuthorized(role, s, allowed);
  const bytes = signedBytes(md);
  for (const s of signers) addSignature(md, s, bytes);
  await ws.saveSignatures(role, md);
  return signatureReports(ws, role, md);
}

/** A detached signature over the staged `role`, written nowhere (see writeDetachedSignature). */
export async function signDetached(dir: string, role: string, signer: Signer): Promise<DetachedSignature> {
  const ws = await Workspace.open(dir);
  const md = await signableRole(ws, role);
  requireAuthorized(role, signer, await ws.signingKeyids(role));
  return signBytesDetached(signer, signedBytes(md), { role, version: md.signed.version });
}

/** `cairn repo sign --detached`: the detached signature of the staged `role`, written to `file` for the release's preparer to merge. */
export async function writeDetachedSignature(dir: string, role: string, signer: Signer, file: string): Promise<DetachedSignature> {
  const signature = await signDetached(dir, role, signer);
  await writeDetachedSignatureFile(file, signature);
  return signature;
}

export function parseDetachedSignature(bytes: Uint8Array | string, what: string): DetachedSignature {
  return parseSignatureFile(bytes, what, badSignature);
}

/** Merges a detached signature into the staged role after checking key, version and bytes. */
export async function mergeSignature(dir: string, detached: DetachedSignature): Promise<SignatureReport[]> {
  const ws = await Workspace.open(dir);
  const md = await signableRole(ws, detached.role);
  const bytes = signedBytes(md);
  if (detached.version !== md.signed.version || detached.signed_sha256 !== sha256Hex(bytes)) {
    throw new RepoError('STALE_SIGNATURE', `signature by ${short(detached.keyid)} covers ${detached.role} version ${detached.version} ` +
      `(${short(detached.signed_sha256)}), but the staged one is version ${md.signed.version} (${short(sha256Hex(bytes))})`, {
      hint: 'the role changed after it was signed: ask the key holder to sign the current staged metadata',
    });
  }
  const rings: RoleKeys[] = [await ws.roleKeys(detached.role)];
  const old = detached.role === 'root' ? await ws.publishedRoot() : undefined;
  if (old) rings.push(await ws.roleKeys('root', old));
  const key = rings.map((r) => (r.keyids.includes(detached.keyid) ? r.keys[detached.keyid] : undefined)).find((k) => k !== undefined);
  if (!key) throw new RepoError('KEY_NOT_AUTHORIZED', `key ${short(detached.keyid)} is not a key of role ${detached.role}`);
  if (!verifySignature(key, bytes, detached.sig)) {
    throw new RepoError('BAD_SIGNATURE', `signature by ${short(detached.keyid)} does not verify over staged ${detached.role} version ${md.signed.version}`);
  }
  md.signatures[detached.keyid] = new Signature({ keyID: detached.keyid, sig: detached.sig });
  await ws.saveSignatures(detached.role, md);
  return signatureReports(ws, detached.role, md);
}

/** Merges the detached signature files `files` (from `cairn repo sign --detached`) in order; each is read with a cap. */
export async function mergeSignatureFiles(dir: string, files: readonly string[]): Promise<SignatureReport[]> {
  const reports: SignatureReport[] = [];
  for (const detached of await readDetachedSignatureFiles(files, badSignature)) reports.push(...(await mergeSignature(dir, detached)));
  return reports;
}
