// cosi/message.ts: domain-separated messages (docs/protocol.md section 2; docs/design.md "Collective
// signatures (CoSi)", domain separation). Every message a witness key signs, alone or
// collectively, is `context || 0x00 || canonical(statement)`, so that no signature made for one
// kind of statement can be replayed as another. The one other thing a witness key signs is a C2SP
// checkpoint cosignature (src/log/signed-note.ts, docs/transparency.md): `cosignature/v1\n...`,
// text without control characters, so it never has the 0x00 after a context that these have.
import { canonicalBytes } from '../encoding/canonical-json.js';
import { CosiError } from './errors.js';

/** The contexts of protocol.md 2 (and the binding-coefficient tag of protocol.md 3). */
export const COSI_CONTEXTS = {
  proofOfPossession: 'cairn/v1/proof-of-possession',
  forwardLink: 'cairn/v1/forward-link',
  head: 'cairn/v1/head',
  cosiBinding: 'cairn/v1/cosi-binding',
  /** A roster member's plain signature over a request to a witness (protocol.md 8 "Who may ask"). */
  witnessRequest: 'cairn/v1/witness-request',
} as const;

/** Contexts a CosiSigner co-signs unless told otherwise (statements of protocol.md 5 and 6). */
export const COSIGNED_CONTEXTS: readonly string[] = [COSI_CONTEXTS.forwardLink, COSI_CONTEXTS.head];

/** Contexts that are never a co-signed statement: a leader must not obtain them from witnesses. */
const RESERVED_CONTEXTS: readonly string[] = [COSI_CONTEXTS.proofOfPossession, COSI_CONTEXTS.cosiBinding, COSI_CONTEXTS.witnessRequest];

const CONTEXT_PATTERN = /^[\x21-\x7e]{1,128}$/;
const MAX_CONTEXT = 128;

function checkContext(context: string): void {
  if (!CONTEXT_PATTERN.test(context)) {
    throw new CosiError('BAD_CONTEXT', `context must be 1-${MAX_CONTEXT} printable ASCII characters without spaces, found ${JSON.stringify(context.slice(0, 40))}`);
  }
}

/** `context || 0x00 || canonical(statement)` (protocol.md 2). */
export function cosiMessage(context: string, statement: unknown): Uint8Array {
  checkContext(context);
  return Buffer.concat([Buffer.from(context, 'ascii'), Buffer.of(0), canonicalBytes(statement)]);
}

/** `"cairn/v1/proof-of-possession" || 0x00 || public key` (protocol.md 1). */
export function proofOfPossessionMessage(publicKey: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(COSI_CONTEXTS.proofOfPossession, 'ascii'), Buffer.of(0), publicKey]);
}

/** The context of a domain-separated message; throws BAD_CONTEXT when it has none. */
export function messageContext(message: Uint8Array): string {
  const end = message.subarray(0, MAX_CONTEXT + 1).indexOf(0);
  if (end <= 0) throw new CosiError('BAD_CONTEXT', 'message does not start with a context string and a 0x00 separator');
  const context = Buffer.from(message.subarray(0, end)).toString('latin1');
  checkContext(context);
  return context;
}

/**
 * Checks that `message` carries one of `allowed` contexts and none reserved for other uses
 * (a proof of possession is never co-signed). Returns the context.
 */
export function requireCosignableContext(message: Uint8Array, allowed: readonly string[]): string {
  const context = messageContext(message);
  if (RESERVED_CONTEXTS.includes(context)) {
    throw new CosiError('BAD_CONTEXT', `context ${context} is reserved and is never co-signed`);
  }
  if (!allowed.includes(context)) {
    throw new CosiError('BAD_CONTEXT', `context ${context} is not one this witness co-signs (expected one of ${allowed.join(', ')})`);
  }
  return context;
}
