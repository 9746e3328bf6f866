// policy/dsse.ts: DSSE envelopes (https://github.com/secure-systems-lab/dsse, envelope.md and
// protocol.md), the signed wrapper of rebuild attestations (docs/verified-builds.md section 5):
// `{ payloadType, payload: base64, signatures: [{ keyid, sig: base64 }] }`, each signature over
// the pre-authentication encoding PAE(payloadType, payload). The key ID is only a hint: a
// signature counts when it verifies under the key the caller looks up for it. Signatures are
// checked before anyone parses the payload (DSSE protocol.md). Pure: no disk, no network.
import type { TufPublicKey } from '../crypto/public-key.js';
import { verifySignature } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { sha256Hex } from '../crypto/hash.js';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { isCairnError } from '../errors/index.js';
import { AttestationError } from './build-errors.js';

export interface DsseSignature {
  /** Key ID (TUF key ID of the signing key): a hint, authenticated only by the signature. */
  readonly keyid: string;
  /** Base64 of the signature over PAE(payloadType, payload). */
  readonly sig: string;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  /** Base64 of the payload's exact bytes. */
  readonly payload: string;
  readonly signatures: readonly DsseSignature[];
}

/** Caps on an envelope read from untrusted bytes. */
export interface DsseLimits {
  readonly maxBytes: number;
  readonly maxSignatures: number;
}

/** Longest payloadType, key ID and base64 signature accepted. */
const MAX_PAYLOAD_TYPE_CHARS = 256;
const MAX_KEYID_CHARS = 128;
const MAX_SIG_BASE64_CHARS = 1024;

/** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type,
    Buffer.from(` ${payload.length} `, 'utf8'), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
  ]);
}

/** An envelope of `payload` with one signature by `signer` over its PAE. */
export function signDsseEnvelope(signer: Signer, payloadType: string, payload: Uint8Array): DsseEnvelope {
  const sigHex = signer.sign(preAuthEncoding(payloadType, payload));
  return {
    payloadType,
    payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64'),
    signatures: [{ keyid: signer.keyid, sig: Buffer.from(sigHex, 'hex').toString('base64') }],
  };
}

/** The file form of an envelope (pretty-printed, trailing newline). */
export function serializeDsseEnvelope(envelope: DsseEnvelope): string {
  return JSON.stringify(envelopeJson(envelope), null, 2) + '\n';
}

/**
 * Parses an envelope from untrusted bytes under `limits`; does not verify it. Unknown fields are
 * ignored, as DSSE allows. Throws AttestationError BAD_ENVELOPE.
 */
export function parseDsseEnvelope(bytes: Uint8Array | string, what: string, limits: DsseLimits): DsseEnvelope {
  const r = new FieldReader((message) => new AttestationError('BAD_ENVELOPE', message), what);
  let o;
  try {
    o = parseJsonObject(bytes, what, { maxBytes: limits.maxBytes, maxDepth: 4, maxEntries: 200 });
  } catch (e) {
    if (isCairnError(e)) throw new AttestationError('BAD_ENVELOPE', e.message, { cause: e });
    throw e;
  }
  const payloadType = r.string(o.payloadType, 'payloadType', MAX_PAYLOAD_TYPE_CHARS);
  // The payload is bounded by the envelope's byte cap.
  const payload = r.base64(o.payload, 'payload', Number.POSITIVE_INFINITY);
  const signatures = r.array(o.signatures, 'signatures', limits.maxSignatures, 1).map((s, i) => {
    const so = r.object(s, `signatures[${i}]`);
    return {
      // keyid is optional in DSSE (an unauthenticated hint).
      keyid: so.keyid === undefined || so.keyid === null ? '' : r.string(so.keyid, `signatures[${i}].keyid`, MAX_KEYID_CHARS),
      sig: r.base64(so.sig, `signatures[${i}].sig`, MAX_SIG_BASE64_CHARS),
    };
  });
  return { payloadType, payload, signatures };
}

/** The payload's exact bytes. */
export function dssePayload(envelope: DsseEnvelope): Buffer {
  return Buffer.from(envelope.payload, 'base64');
}

/**
 * Key IDs of `keys` whose signature on `envelope` verifies over the PAE (each key once).
 * Signatures naming a key ID not in `keys` are ignored.
 */
export function validSigners(envelope: DsseEnvelope, keys: ReadonlyMap<string, TufPublicKey>): Set<string> {
  const pae = preAuthEncoding(envelope.payloadType, dssePayload(envelope));
  const valid = new Set<string>();
  for (const s of envelope.signatures) {
    const key = keys.get(s.keyid);
    if (!key || valid.has(s.keyid)) continue;
    if (verifySignature(key, pae, Buffer.from(s.sig, 'base64').toString('hex'))) valid.add(s.keyid);
  }
  return valid;
}

/** SHA-256 of one envelope: over the canonical JSON of {payloadType, payload, signatures}. */
export function envelopeDigest(envelope: DsseEnvelope): string {
  return sha256Hex(canonicalBytes(envelopeJson(envelope)));
}

function envelopeJson(envelope: DsseEnvelope): { payloadType: string; payload: string; signatures: DsseSignature[] } {
  return { payloadType: envelope.payloadType, payload: envelope.payload, signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })) };
}
