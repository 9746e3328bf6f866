// test/policy/attestation.test.ts: rebuild attestations (in-toto Statement v1, SLSA VSA v1, DSSE)
// and the quorum rule witnesses apply, as the attacks they stop: a signature by a non-policy
// verifier, one verifier counted twice, a PASSED for other bytes, a FAILED from a policy
// verifier, a tampered payload, a wrong payloadType, a co-signed statement naming another
// verifier; plus the block digest and release declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateEd25519, type Signer } from '../../src/crypto/index.js';
import type { JsonObject } from '../../src/encoding/index.js';
import { isCairnError } from '../../src/errors/index.js';
import { rewrittenKeys, signerAs } from '../fixtures/key-variants.js';
import {
  AttestationError, DeclarationError, attestationRelativePath, attestationsDigest, checkAttestationQuorum, createAttestation, declarationFromCustom,
  declarationToCustom, envelopeDigest, parseAttestation, parseDeclarationFile, preAuthEncoding, serializeAttestation, verifyAttestation,
  parseBuildPolicy, DSSE_PAYLOAD_TYPE, type AttestationFields, type DsseEnvelope, type ReleaseDeclaration, type VerificationResult,
} from '../../src/policy/index.js';

const T = { timeout: 30_000 };
const SHA = 'a'.repeat(64);
const OTHER_SHA = 'b'.repeat(64);
const NAME = 'hello-c/hello';
const declaration: ReleaseDeclaration = {
  source: { uri: 'https://example.org/hello-1.0.src.tar', sha256: 'c'.repeat(64) },
  recipe: { builder: 'debian-12', command: 'make', output: 'hello', sourceDateEpoch: 1_700_000_000 },
};

function fields(result: VerificationResult, over: Partial<AttestationFields> = {}): AttestationFields {
  return {
    subject: { name: NAME, sha256: SHA },
    result,
    timeVerified: new Date('2026-01-01T00:00:00Z'),
    resourceUri: NAME,
    rebuild: {
      ...declaration,
      rebuilt: { sha256: result === 'PASSED' ? SHA : 'd'.repeat(64), length: 16016 },
      isolation: 'bubblewrap',
      environment: 'debian-12',
      ...(result === 'FAILED' ? { differences: { kind: 'bytes' as const, publishedLength: 16016, rebuiltLength: 16016, firstDifferingOffset: 4242 } } : {}),
    },
    ...over,
  };
}

const [v1, v2, v3, outsider] = [generateEd25519().signer, generateEd25519().signer, generateEd25519().signer, generateEd25519().signer] as [Signer, Signer, Signer, Signer];
const policy = { verifiers: [v1.publicKey, v2.publicKey, v3.publicKey], quorum: 2 };

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AttestationError || e instanceof DeclarationError, `expected a typed error, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('DSSE PAE matches the specification\'s test vector', () => {
  assert.equal(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
});

test('an attestation round-trips through its file form and verifies as the in-toto/SLSA statement it is', T, () => {
  const envelope = createAttestation(v1, fields('PASSED'));
  assert.equal(envelope.payloadType, DSSE_PAYLOAD_TYPE);
  assert.equal(envelope.signatures[0]!.keyid, v1.keyid);
  const parsed = parseAttestation(serializeAttestation(envelope));
  const verified = verifyAttestation(parsed, [v1.publicKey, v2.publicKey]);
  assert.equal(verified.verifier, v1.keyid);
  assert.equal(verified.statement.result, 'PASSED');
  assert.deepEqual(verified.statement.subject, { name: NAME, sha256: SHA });
  assert.equal(verified.statement.rebuild.isolation, 'bubblewrap');
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as Record<string, unknown> & { predicate: Record<string, unknown> };
  assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
  assert.equal(statement.predicateType, 'https://slsa.dev/verification_summary/v1');
  assert.deepEqual(Object.keys(statement.predicate).sort(), ['cairn', 'policy', 'resourceUri', 'timeVerified', 'verificationResult', 'verifiedLevels', 'verifier']);
});

test('quorum met: two PASSED attestations from distinct policy verifiers for the exact sha256', T, () => {
  const report = checkAttestationQuorum({ name: NAME, sha256: SHA, declaration }, [createAttestation(v1, fields('PASSED')), createAttestation(v2, fields('PASSED'))], policy);
  assert.deepEqual(report.passed, [v1.keyid, v2.keyid].sort());
  assert.deepEqual(report.ignored, []);
});

test('refuses a quorum padded with a signature by a verifier the policy does not name', T, () => {
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [createAttestation(v1, fields('PASSED')), createAttestation(outsider, fields('PASSED'))], policy),
    'QUORUM_NOT_MET', new RegExp(`${NAME} \\(sha256 aaaaaaaaaaaa\\) has 1 of 2 .*passed: ${v1.keyid.slice(0, 12)}.*not signed by a policy verifier`));
});

test('counts two attestations by the same verifier once', T, () => {
  const again = createAttestation(v1, fields('PASSED', { timeVerified: new Date('2026-01-02T00:00:00Z') }));
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [createAttestation(v1, fields('PASSED')), again], policy), 'QUORUM_NOT_MET', /has 1 of 2/);
  // The same envelope twice, too.
  const one = createAttestation(v2, fields('PASSED'));
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [one, one], policy), 'QUORUM_NOT_MET', /has 1 of 2/);
});

test('a PASSED for another sha256 or another target name does not count', T, () => {
  const otherBytes = createAttestation(v2, fields('PASSED', { subject: { name: NAME, sha256: OTHER_SHA } }));
  const otherName = createAttestation(v3, fields('PASSED', { subject: { name: 'evil/hello', sha256: SHA } }));
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [createAttestation(v1, fields('PASSED')), otherBytes, otherName], policy), 'QUORUM_NOT_MET', /has 1 of 2.*2 attestation\(s\) ignored/);
});

test('a PASSED for the same bytes built from another declared source does not count when the declaration is given', T, () => {
  const otherSource = createAttestation(v2, fields('PASSED', { rebuild: { ...fields('PASSED').rebuild, source: { uri: declaration.source.uri, sha256: 'e'.repeat(64) } } }));
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA, declaration }, [createAttestation(v1, fields('PASSED')), otherSource], policy), 'QUORUM_NOT_MET');
});

test('any FAILED from a policy verifier blocks the release even when the quorum of PASSED is met', T, () => {
  const list = [createAttestation(v1, fields('PASSED')), createAttestation(v2, fields('PASSED')), createAttestation(v3, fields('FAILED'))];
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, list, policy), 'REBUILD_FAILED', new RegExp(`${v3.keyid.slice(0, 12)} \\(16016 bytes published, 16016 rebuilt, first difference at byte 4242\\)`));
  // A verifier that says both PASSED and FAILED about the same bytes: FAILED wins.
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [...list.slice(0, 2), createAttestation(v1, fields('FAILED'))], policy), 'REBUILD_FAILED');
});

test('a FAILED signed by a non-policy verifier, or about other bytes, does not block', T, () => {
  const list = [createAttestation(v1, fields('PASSED')), createAttestation(v2, fields('PASSED')), createAttestation(outsider, fields('FAILED')),
    createAttestation(v3, fields('FAILED', { subject: { name: NAME, sha256: OTHER_SHA } }))];
  const report = checkAttestationQuorum({ name: NAME, sha256: SHA }, list, policy);
  assert.equal(report.passed.length, 2);
  assert.equal(report.ignored.length, 2);
});

test('refuses a tampered DSSE payload', T, () => {
  const envelope = createAttestation(v1, fields('FAILED'));
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as { predicate: { verificationResult: string } };
  statement.predicate.verificationResult = 'PASSED';
  const tampered: DsseEnvelope = { ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') };
  expectCode(() => verifyAttestation(tampered, [v1.publicKey]), 'BAD_SIGNATURE');
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [tampered, createAttestation(v2, fields('PASSED'))], policy), 'QUORUM_NOT_MET', /has 1 of 2/);
});

test('refuses a wrong payloadType, even when the signature covers it', T, () => {
  const payload = Buffer.from(createAttestation(v1, fields('PASSED')).payload, 'base64');
  const type = 'application/json';
  const envelope: DsseEnvelope = { payloadType: type, payload: payload.toString('base64'), signatures: [{ keyid: v1.keyid, sig: Buffer.from(v1.sign(preAuthEncoding(type, payload)), 'hex').toString('base64') }] };
  expectCode(() => verifyAttestation(envelope, [v1.publicKey]), 'WRONG_PAYLOAD_TYPE');
});

test('refuses a statement that names a verifier other than the key that signed it', T, () => {
  // v1 signs a statement claiming to be v2's verdict: it must not count for v2.
  const theirs = createAttestation(v2, fields('PASSED'));
  const payload = Buffer.from(theirs.payload, 'base64');
  const forged: DsseEnvelope = { ...theirs, signatures: [{ keyid: v1.keyid, sig: Buffer.from(v1.sign(preAuthEncoding(DSSE_PAYLOAD_TYPE, payload)), 'hex').toString('base64') }] };
  expectCode(() => verifyAttestation(forged, policy.verifiers), 'VERIFIER_MISMATCH');
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [forged, createAttestation(v3, fields('PASSED'))], policy), 'QUORUM_NOT_MET');
});

test('refuses validly signed statements with hostile fields: wrong types, overlong strings, huge integers', T, () => {
  // The verifier's own key signs each: the statement reader, not the signature, must refuse them.
  type Subject = { digest: { sha256: unknown } };
  type Statement = {
    subject: Subject[] | string;
    predicate: { resourceUri: unknown; verificationResult: unknown; timeVerified: unknown; cairn: { rebuilt: { length: unknown }; recipe: { sourceDateEpoch: unknown }; differences?: unknown } };
  };
  const signedStatement = (mutate: (s: Statement) => void): DsseEnvelope => {
    const statement = JSON.parse(Buffer.from(createAttestation(v1, fields('PASSED')).payload, 'base64').toString()) as Statement;
    mutate(statement);
    const payload = Buffer.from(JSON.stringify(statement));
    return { payloadType: DSSE_PAYLOAD_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: v1.keyid, sig: Buffer.from(v1.sign(preAuthEncoding(DSSE_PAYLOAD_TYPE, payload)), 'hex').toString('base64') }] };
  };
  assert.equal(verifyAttestation(signedStatement(() => undefined), [v1.publicKey]).verifier, v1.keyid);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.subject = 'x'; }), [v1.publicKey]), 'BAD_STATEMENT', /subject must be an array/);
  expectCode(() => verifyAttestation(signedStatement((s) => { (s.subject as Subject[])[0]!.digest.sha256 = 'A'.repeat(64); }), [v1.publicKey]), 'BAD_STATEMENT', /lowercase hex/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.resourceUri = 'u'.repeat(5000); }), [v1.publicKey]), 'BAD_STATEMENT', /resourceUri must be a string of at most 4096/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.cairn.rebuilt.length = 2 ** 60; }), [v1.publicKey]), 'BAD_STATEMENT', /rebuilt.length must be a non-negative integer/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.cairn.rebuilt.length = -1; }), [v1.publicKey]), 'BAD_STATEMENT');
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.verificationResult = 'MAYBE'; }), [v1.publicKey]), 'BAD_STATEMENT', /verificationResult must be one of/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.timeVerified = 'yesterday'; }), [v1.publicKey]), 'BAD_STATEMENT', /RFC 3339/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.cairn.recipe.sourceDateEpoch = 1e300; }), [v1.publicKey]), 'BAD_STATEMENT', /sourceDateEpoch/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.subject = Array<Subject>(65).fill((s.subject as Subject[])[0]!); }), [v1.publicKey]), 'BAD_STATEMENT', /1 to 64 entries, found 65/);
  expectCode(() => verifyAttestation(signedStatement((s) => { s.predicate.cairn.differences = { kind: 'archive', format: 'zip', publishedLength: 1, rebuiltLength: 1, firstDifferingOffset: 0, moreFiles: 0, files: [] }; }), [v1.publicKey]), 'BAD_STATEMENT', /differences.format/);
});

test('refuses envelopes with hostile fields: overlong payloadType, key ID or signature, too many signatures', T, () => {
  const good = createAttestation(v1, fields('PASSED'));
  const sig = good.signatures[0]!;
  expectCode(() => parseAttestation(JSON.stringify({ ...good, payloadType: 't'.repeat(257) })), 'BAD_ENVELOPE', /payloadType/);
  expectCode(() => parseAttestation(JSON.stringify({ ...good, signatures: [{ keyid: 'k'.repeat(129), sig: sig.sig }] })), 'BAD_ENVELOPE', /keyid/);
  expectCode(() => parseAttestation(JSON.stringify({ ...good, signatures: [{ keyid: sig.keyid, sig: 'A'.repeat(2048) }] })), 'BAD_ENVELOPE', /sig/);
  expectCode(() => parseAttestation(JSON.stringify({ ...good, signatures: [{ keyid: sig.keyid, sig: 5 }] })), 'BAD_ENVELOPE', /sig/);
  expectCode(() => parseAttestation(JSON.stringify({ ...good, signatures: Array(17).fill(sig) })), 'BAD_ENVELOPE', /1 to 16 entries, found 17/);
  // keyid is an optional hint in DSSE: absent or null reads as empty.
  assert.equal(parseAttestation(JSON.stringify({ ...good, signatures: [{ sig: sig.sig }] })).signatures[0]!.keyid, '');
});

test('refuses malformed and oversized envelopes with typed errors', T, () => {
  expectCode(() => parseAttestation('{"payloadType":"x","payload":"not base64!","signatures":[{"keyid":"","sig":""}]}'), 'BAD_ENVELOPE');
  expectCode(() => parseAttestation('{"payloadType":"x","payload":"","signatures":[]}'), 'BAD_ENVELOPE');
  expectCode(() => parseAttestation(`{"payloadType":"x","payload":"${'A'.repeat(600 * 1024)}","signatures":[{"keyid":"","sig":""}]}`), 'BAD_ENVELOPE', /limit/);
  expectCode(() => parseAttestation('[1]'), 'BAD_ENVELOPE');
});

test('fuzz: arbitrary bytes and mutated envelopes never verify and only raise typed errors', T, () => {
  const good = serializeAttestation(createAttestation(v1, fields('PASSED')));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
    try {
      verifyAttestation(parseAttestation(bytes), [v1.publicKey]);
      return false;
    } catch (e) {
      return isCairnError(e);
    }
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, delta) => {
    const bytes = Buffer.from(good);
    bytes[at] = (bytes[at]! + delta) % 256;
    try {
      const v = verifyAttestation(parseAttestation(bytes), [v1.publicKey]);
      // A mutation that survives can only be one that does not change what was signed (JSON whitespace, keyid hint).
      return v.statement.subject.sha256 === SHA && v.statement.result === 'PASSED';
    } catch (e) {
      return isCairnError(e);
    }
  }), { numRuns: 300 });
});

test('attestationsDigest is order-independent, duplicate-free and changes with any envelope', T, () => {
  const a = createAttestation(v1, fields('PASSED'));
  const b = createAttestation(v2, fields('PASSED'));
  const c = createAttestation(v3, fields('FAILED'));
  assert.match(attestationsDigest([a, b]), /^[0-9a-f]{64}$/);
  assert.equal(attestationsDigest([a, b, c]), attestationsDigest([c, a, b]));
  assert.equal(attestationsDigest([a, b]), attestationsDigest([b, a, a]));
  assert.notEqual(attestationsDigest([a, b]), attestationsDigest([a, c]));
  assert.notEqual(attestationsDigest([a]), attestationsDigest([]));
  // The digest is over canonical JSON: the file's formatting does not matter.
  assert.equal(envelopeDigest(parseAttestation(serializeAttestation(a))), envelopeDigest(parseAttestation(JSON.stringify(a))));
});

test('policy that cannot be met is refused', T, () => {
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [], { verifiers: [v1.publicKey], quorum: 2 }), 'BAD_POLICY');
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [], { verifiers: [v1.publicKey], quorum: 0 }), 'BAD_POLICY');
  expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [], { verifiers: { [v2.keyid]: v1.publicKey }, quorum: 1 }), 'BAD_POLICY');
  // The TUF-style map form works.
  const report = checkAttestationQuorum({ name: NAME, sha256: SHA }, [createAttestation(v1, fields('PASSED'))], { verifiers: { [v1.keyid]: v1.publicKey }, quorum: 1 });
  assert.deepEqual(report.passed, [v1.keyid]);
});

test('release declarations: round trip through custom metadata; unsafe or malformed ones refused', () => {
  const custom = declarationToCustom(declaration, { arch: 'x86_64' });
  assert.equal(custom.arch, 'x86_64');
  assert.deepEqual(declarationFromCustom(custom), declaration);
  assert.equal(declarationFromCustom({ arch: 'x86_64' }), undefined);
  const bad = (recipe: Record<string, unknown>, source: Record<string, unknown> = declaration.source as unknown as Record<string, unknown>): void =>
    expectCode(() => declarationFromCustom({ source, recipe: { ...declaration.recipe, ...recipe } } as never), 'BAD_DECLARATION');
  bad({ output: '../../etc/passwd' });
  bad({ output: '/abs' });
  bad({ output: 'a/./b' });
  bad({ sourceDateEpoch: -1 });
  bad({ sourceDateEpoch: 1.5 });
  bad({ command: '' });
  bad({ command: 'x'.repeat(5000) });
  bad({}, { uri: 'ftp://example.org/x.tar', sha256: 'c'.repeat(64) });
  bad({}, { uri: 'https://example.org/x.tar', sha256: 'C'.repeat(64) });
  expectCode(() => declarationFromCustom({ source: declaration.source } as never), 'BAD_DECLARATION', /recipe/);
  expectCode(() => parseDeclarationFile('{"format":"other"}'), 'BAD_DECLARATION', /format/);
});

test('attestation layout: attestations/<target path>/<keyid>.dsse.json, traversal refused', () => {
  const sha = 'ab'.repeat(32);
  assert.equal(attestationRelativePath('hello-c/hello', sha, v1.keyid), `attestations/hello-c/hello/${sha}.${v1.keyid}.dsse.json`);
  expectCode(() => attestationRelativePath('../x', sha, v1.keyid), 'BAD_STATEMENT');
  expectCode(() => attestationRelativePath('a//b', sha, v1.keyid), 'BAD_STATEMENT');
  expectCode(() => attestationRelativePath('a', sha, '../x'), 'BAD_ENVELOPE');
  expectCode(() => attestationRelativePath('a', '../x', v1.keyid), 'BAD_STATEMENT');
});

test('counts one verifier listed twice in the policy, written another way, once toward the quorum', T, () => {
  for (const variant of rewrittenKeys(v1.publicKey)) {
    const twin = signerAs(v1, variant);
    const doubled = { verifiers: [v1.publicKey, variant.key, v3.publicKey], quorum: 2 };
    expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [createAttestation(v1, fields('PASSED')), createAttestation(twin, fields('PASSED'))], doubled), 'QUORUM_NOT_MET');
    // The control: a second, distinct verifier meets it.
    checkAttestationQuorum({ name: NAME, sha256: SHA }, [createAttestation(v1, fields('PASSED')), createAttestation(v3, fields('PASSED'))], doubled);
    // A policy whose quorum only the doubled key could reach cannot be met.
    expectCode(() => checkAttestationQuorum({ name: NAME, sha256: SHA }, [], { verifiers: [v1.publicKey, variant.key], quorum: 2 }), 'BAD_POLICY', /exceeds the 1 distinct/);
    // Root's build policy may not list it twice at all.
    expectCode(() => parseBuildPolicy({ verifiers: { [v1.keyid]: v1.publicKey as unknown as JsonObject, [variant.keyid]: variant.key as unknown as JsonObject }, quorum: 1 }, 'root build policy'), 'BAD_POLICY', /same key written twice/);
  }
});
