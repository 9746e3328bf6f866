// Tests for policy/attestation-manifest.ts: the manifest a block's attestations digest names is
// built, written and read back exactly; a mirror that serves a manifest the block does not vouch
// for (other envelopes, another digest, extra or mistyped fields, a repeated target, lists over
// their caps) is refused with AttestationError BAD_MANIFEST.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEd25519 } from '../../src/crypto/index.js';
import { FormatError } from '../../src/errors/index.js';
import {
  ATTESTATION_MANIFEST_LIMITS, ATTESTATION_MANIFEST_TYPE, AttestationError, attestationManifestLogPath, attestationManifestPath, attestationsDigest,
  buildAttestationManifest, createAttestation, envelopeDigest, parseAttestationManifest, serializeAttestationManifest, type AttestationFields,
} from '../../src/policy/index.js';

const T = { timeout: 30_000 };
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function fields(name: string, sha256: string): AttestationFields {
  return {
    subject: { name, sha256 },
    result: 'PASSED',
    timeVerified: new Date('2026-01-01T00:00:00Z'),
    resourceUri: name,
    rebuild: {
      source: { uri: 'https://example.org/src.tar', sha256: 'c'.repeat(64) },
      recipe: { builder: 'debian-12', command: 'make', output: 'out', sourceDateEpoch: 1_700_000_000 },
      rebuilt: { sha256, length: 10 },
      isolation: 'none',
      environment: 'debian-12',
    },
  };
}

const [v1, v2] = [generateEd25519().signer, generateEd25519().signer];
const app = [createAttestation(v1, fields('app', A)), createAttestation(v2, fields('app', A))];
const lib = [createAttestation(v1, fields('lib', B))];
const manifest = buildAttestationManifest([{ target: 'app', sha256: A, envelopes: [app[1]!, app[0]!, app[0]!] }, { target: 'lib', sha256: B, envelopes: lib }]);

/** The manifest's JSON, changed by `mutate`, as a mirror would serve it. */
function served(mutate: (doc: { type: unknown; digest: unknown; artifacts: Array<Record<string, unknown>> } & Record<string, unknown>) => void): string {
  const doc = JSON.parse(serializeAttestationManifest(manifest)) as { type: unknown; digest: unknown; artifacts: Array<Record<string, unknown>> } & Record<string, unknown>;
  mutate(doc);
  return JSON.stringify(doc);
}

function refused(bytes: string, fragment: RegExp, digest = manifest.digest): void {
  assert.throws(() => parseAttestationManifest(bytes, 'log/attestations/x.json', digest), (e: unknown) => {
    assert.ok(e instanceof AttestationError, `expected AttestationError, got ${String(e)}`);
    assert.equal(e.code, 'BAD_MANIFEST');
    assert.match(e.message, fragment);
    return true;
  });
}

test('a manifest names the digest the block records and round-trips through its file form', T, () => {
  assert.equal(manifest.type, ATTESTATION_MANIFEST_TYPE);
  assert.equal(manifest.digest, attestationsDigest([...app, ...lib]));
  // Per artifact: unique, sorted envelope digests.
  assert.deepEqual(manifest.artifacts[0]!.envelopes, app.map(envelopeDigest).sort());
  const text = serializeAttestationManifest(manifest);
  assert.ok(text.endsWith('\n'));
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['type', 'digest', 'artifacts']);
  assert.deepEqual(parseAttestationManifest(text, 'manifest', manifest.digest), manifest);
  assert.equal(attestationManifestPath(manifest.digest), `log/attestations/${manifest.digest}.json`);
  assert.equal(attestationManifestLogPath(manifest.digest), `attestations/${manifest.digest}.json`);
  assert.throws(() => attestationManifestPath('../../etc/passwd'), (e: unknown) => e instanceof AttestationError && e.code === 'BAD_MANIFEST');
});

test('refuses a manifest whose envelopes are not the ones the block relied on', T, () => {
  // A mirror drops one envelope of app (the digest no longer matches what the block records).
  refused(served((d) => { (d.artifacts[0]!.envelopes as string[]).pop(); }), /its envelopes hash to [0-9a-f]{12}, the witnessed block records/);
  // A mirror serves a consistent manifest of another release under this block's digest.
  const other = buildAttestationManifest([{ target: 'app', sha256: A, envelopes: [app[0]!] }]);
  refused(serializeAttestationManifest(other), /its envelopes hash to/);
  // The envelopes match but the digest field names another one.
  refused(served((d) => { d.digest = 'd'.repeat(64); }), /names digest dddddddddddd/);
});

test('refuses extra, missing and mistyped fields, a repeated target and lists over their caps', T, () => {
  refused(served((d) => { d.extra = 1; }), /unexpected field "extra"/);
  refused(served((d) => { d.type = 'cairn/v2/attestation-manifest'; }), /type must be "cairn\/v1\/attestation-manifest"/);
  refused(served((d) => { d.artifacts[0]!.note = 'x'; }), /artifacts\[0\]: unexpected field "note"/);
  refused(served((d) => { delete d.artifacts[0]!.sha256; }), /artifacts\[0\]: missing field "sha256"/);
  refused(served((d) => { d.artifacts[0]!.sha256 = 'A'.repeat(64); }), /artifacts\[0\].sha256 must be 32 bytes of lowercase hex/);
  refused(served((d) => { d.artifacts[0]!.target = 7; }), /artifacts\[0\].target must be a string/);
  refused(served((d) => { d.artifacts[0]!.target = 't'.repeat(ATTESTATION_MANIFEST_LIMITS.maxTargetChars + 1); }), /artifacts\[0\].target must be a string of 1 to 4096 characters/);
  refused(served((d) => { d.artifacts[1]!.target = 'app'; }), /artifacts\[1\] repeats target "app"/);
  refused(served((d) => { d.artifacts[0]!.envelopes = Array(65).fill(envelopeDigest(app[0]!)); }), /envelopes must be an array of at most 64 entries/);
  refused(served((d) => { d.artifacts = {} as never; }), /artifacts must be an array/);
});

test('bytes that are not JSON within the caps are a FormatError, as for any document', T, () => {
  assert.throws(() => parseAttestationManifest('{', 'm', manifest.digest), (e: unknown) => e instanceof FormatError && e.code === 'MALFORMED_JSON');
  assert.throws(() => parseAttestationManifest('[]', 'm', manifest.digest), (e: unknown) => e instanceof FormatError && e.code === 'SCHEMA');
  const huge = ' '.repeat(ATTESTATION_MANIFEST_LIMITS.maxBytes + 1);
  assert.throws(() => parseAttestationManifest(huge, 'm', manifest.digest), (e: unknown) => e instanceof FormatError && e.code === 'TOO_LARGE');
});
