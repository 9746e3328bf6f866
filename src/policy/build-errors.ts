// policy/build-errors.ts: typed refusals of the build-verification policy (docs/verified-builds.md
// sections 5 to 8: each new or changed artifact has the policy's quorum of matching rebuild
// attestations). Codes are stable.
import { CairnError, EXIT } from '../errors/index.js';

/** A release declaration (source and recipe in a target's custom metadata) is malformed. */
export class DeclarationError extends CairnError<
  | 'BAD_DECLARATION' // wrong shape, bad digest, unsafe output path, over a cap
  | 'ARTIFACT_MISMATCH' // a declaration file names an artifact digest other than the file given
> {
  get exitCode(): number {
    // A digest that does not match is the same fault wherever it is found (RebuildError ARTIFACT_MISMATCH): exit 6.
    return this.code === 'ARTIFACT_MISMATCH' ? EXIT.verification : EXIT.format;
  }
}

/** An attestation does not parse, does not verify, or the attestations do not meet the policy. */
export class AttestationError extends CairnError<
  | 'BAD_ENVELOPE' // not a DSSE envelope (shape, base64, over a cap)
  | 'WRONG_PAYLOAD_TYPE' // payloadType is not application/vnd.in-toto+json
  | 'BAD_STATEMENT' // the payload is not an in-toto Statement v1 with a SLSA VSA v1 predicate
  | 'BAD_SIGNATURE' // no signature by any of the given verifier keys verifies over the PAE
  | 'VERIFIER_MISMATCH' // the predicate's verifier.id names a key other than the one that signed
  | 'BAD_POLICY' // the build policy itself is unusable (quorum 0, quorum above the verifier count)
  | 'QUORUM_NOT_MET' // fewer than k PASSED from distinct policy verifiers for the artifact's sha256
  | 'ISOLATION_TOO_WEAK' // the quorum is not met because the policy requires full isolation and some verifiers rebuilt with less
  | 'REBUILD_FAILED' // a policy verifier signed FAILED for the artifact's sha256
  | 'NO_DECLARATION' // a new or changed artifact has no release declaration, so no verifier can rebuild it
  | 'BAD_MANIFEST' // an attestation manifest is malformed, or its envelopes do not hash to the digest its block records
> {
  get exitCode(): number {
    return EXIT.verification;
  }
}
