// client/witness-check.ts: holding the TUF workflow to what the witnesses co-signed
// (docs/protocol.md section 9 "Clients and the log", "What a refresh checks, in order", steps 3
// and 4). A verified head block records the repository state (root, snapshot and top-level
// targets: version and sha256 of the exact bytes). While the TUF updater runs,
// WitnessCheckingFetcher hands it a metadata document only after WitnessChecker has matched it
// against that record, so a document the witnesses never saw is refused before the updater can
// verify and persist it:
//
// - N.root.json: not newer than the newest witnessed root; a witnessed version has its hash;
// - timestamp.json: names a snapshot version (and, when listed, hash) that a witnessed block records;
// - snapshot: its bytes hash to the witnessed snapshot of that version;
// - top-level targets: its bytes hash to the witnessed targets of the same block;
// - delegated targets roles and hash bins: the witnessed snapshot must give the length and sha256
//   of every role it lists (UNPINNED_ROLE), and each role file fetched has exactly those
//   (docs/protocol.md section 5 "What a block commits to").
//
// The witnessed blocks are the head block and, on demand, its predecessor (verified through the
// head's back link 0): publishing writes log/head.json before the TUF files, so a mirror may for
// a moment serve the previous state under a new head.
import { parseJsonObject } from '../encoding/bounded-json.js';
import { short } from '../errors/index.js';
import { fetchAll, type Fetcher } from '../io/fetch.js';
import { sha256Hex } from '../crypto/hash.js';
import type { Block } from '../log/index.js';
import { describeUnpinnedRoles, directoryUrl, metadataFileName, parseEnvelope, type RootEnvelope, type SnapshotEnvelope, type TargetsEnvelope } from '../tuf/index.js';
import { ClientError } from './errors.js';

/** A witnessed block and where it stands relative to the head. */
export interface WitnessedBlock {
  block: Block;
  which: 'head' | 'predecessor';
}

/** The metadata documents the checker looks at, from their file names. */
export type CheckedDocument =
  | { kind: 'root'; version: number }
  | { kind: 'timestamp' }
  | { kind: 'snapshot'; version: number | undefined }
  | { kind: 'targets'; version: number | undefined };

/** Which checked document a metadata file name is (`7.root.json`, `timestamp.json`, `3.snapshot.json`, ...). */
function classifyMetadataName(name: string): CheckedDocument | undefined {
  const m = /^(?:(\d{1,15})\.)?(root|timestamp|snapshot|targets)\.json$/.exec(name);
  if (!m) return undefined;
  const version = m[1] === undefined ? undefined : Number(m[1]);
  switch (m[2]) {
    case 'root':
      return version === undefined ? undefined : { kind: 'root', version };
    case 'timestamp':
      return version === undefined ? { kind: 'timestamp' } : undefined;
    case 'snapshot':
      return { kind: 'snapshot', version };
    default:
      return { kind: 'targets', version };
  }
}

/** A delegated targets role (or hash bin) as the witnessed snapshot pins it. */
export interface PinnedRole {
  role: string;
  version: number;
  length: number;
  sha256: string;
}

/** Caps for reading a timestamp's snapshot entry (the document itself is capped by the fetch). */
const TIMESTAMP_SHAPE = { maxDepth: 16, maxEntries: 10_000 };

/**
 * The matching state of one refresh: the witnessed blocks, narrowed down as the timestamp, the
 * snapshot and the targets are seen, so that the three come from one witnessed block.
 */
export class WitnessChecker {
  /** Root documents handed to the updater (N.root.json fetches that passed). */
  rootsFetched = 0;
  private candidates: WitnessedBlock[] | undefined;
  /** Delegated role files by the name the updater fetches them under (set by checkAccepted). */
  private pinned: Map<string, PinnedRole> | undefined;

  constructor(
    readonly head: Block,
    private readonly loadPredecessor: () => Promise<Block | undefined>,
  ) {}

  /** The head block and, when it exists and is published, its verified predecessor. */
  async witnessed(): Promise<WitnessedBlock[]> {
    const out: WitnessedBlock[] = [{ block: this.head, which: 'head' }];
    const pred = await this.loadPredecessor();
    if (pred !== undefined) out.push({ block: pred, which: 'predecessor' });
    return out;
  }

  /** The witnessed block the accepted state matched (after the timestamp check). */
  get matched(): WitnessedBlock | undefined {
    return this.candidates?.[0];
  }

  async check(doc: CheckedDocument, bytes: Uint8Array, maxBytes: number): Promise<void> {
    switch (doc.kind) {
      case 'root':
        return this.checkRoot(doc.version, bytes);
      case 'timestamp':
        return this.checkTimestamp(bytes, maxBytes);
      case 'snapshot':
        this.checkSnapshot(bytes, doc.version);
        // Refused before the updater stores it, not only once the refresh is over (checkAccepted).
        return this.requirePinned(parseEnvelope('snapshot', bytes, 'witnessed snapshot.json'));
      case 'targets':
        return this.checkTargets(bytes, doc.version);
    }
  }

  /** N.root.json: never newer than the head's root; a version a witnessed block records must have its bytes. */
  async checkRoot(version: number, bytes: Uint8Array): Promise<void> {
    const newest = this.head.payload.root.version;
    if (version > newest) {
      throw new ClientError('NOT_WITNESSED', `the mirror serves root v${version}; the witnessed head block ${this.head.index} records root v${newest}: this root was never witnessed`, {
        hint: 'the repository published a root rotation the witnesses have not co-signed; wait for the log to record it or report it',
      });
    }
    const sha256 = sha256Hex(bytes);
    const recorded = await this.lookup((w) => w.block.payload.root.version === version);
    if (recorded.length === 0) {
      const all = await this.witnessed();
      throw new ClientError('NOT_WITNESSED', `the mirror serves root v${version}; the witnessed blocks record root ${all.map((w) => `v${w.block.payload.root.version} (block ${w.block.index})`).join(' and ')}`);
    }
    if (!recorded.some((w) => w.block.payload.root.sha256 === sha256)) {
      throw new ClientError('NOT_WITNESSED', `root v${version} has sha256 ${short(sha256)}; block ${recorded[0]!.block.index} records ${short(recorded[0]!.block.payload.root.sha256)} for that version`);
    }
    this.rootsFetched++;
  }

  /** timestamp.json: the snapshot it names (version, and hash when listed) is witnessed. */
  async checkTimestamp(bytes: Uint8Array, maxBytes: number): Promise<void> {
    const { version, sha256 } = snapshotEntryOf(bytes, maxBytes);
    const sameVersion = await this.lookup(
      (w) => w.block.payload.snapshot.version === version && (sha256 === undefined || w.block.payload.snapshot.sha256 === sha256),
      (w) => w.block.payload.snapshot.version === version,
    );
    if (sameVersion.length === 0) {
      const witnessed = await this.witnessed();
      const recorded = witnessed.map((w) => `block ${w.block.index} (${w.which}) records snapshot v${w.block.payload.snapshot.version}`).join(', ');
      throw new ClientError('NOT_WITNESSED', `timestamp.json names snapshot v${version}, which no witnessed block records: ${recorded}`, {
        hint: witnessed.every((w) => w.block.payload.snapshot.version < version)
          ? 'the repository published a release the witnesses have not co-signed (yet); refuse it, and retry once the log records it'
          : 'the mirror serves TUF metadata older than the log; try another mirror',
      });
    }
    const matching = sha256 === undefined ? sameVersion : sameVersion.filter((w) => w.block.payload.snapshot.sha256 === sha256);
    if (matching.length === 0) {
      throw new ClientError('NOT_WITNESSED', `timestamp.json names snapshot v${version} with sha256 ${short(sha256!)}; the witnessed snapshot v${version} has ${short(sameVersion[0]!.block.payload.snapshot.sha256)}`, {
        hint: 'two different snapshots carry one version (mix-and-match against the log); report it',
      });
    }
    this.candidates = matching;
  }

  /** Snapshot bytes: the witnessed snapshot of the version the timestamp named. */
  checkSnapshot(bytes: Uint8Array, urlVersion: number | undefined): void {
    const candidates = this.requireCandidates('snapshot');
    const sha256 = sha256Hex(bytes);
    const version = candidates[0]!.block.payload.snapshot.version;
    if (urlVersion !== undefined && urlVersion !== version) {
      throw new ClientError('NOT_WITNESSED', `the updater fetched snapshot v${urlVersion}; the witnessed state has snapshot v${version}`);
    }
    const matching = candidates.filter((w) => w.block.payload.snapshot.sha256 === sha256);
    if (matching.length === 0) {
      throw new ClientError('NOT_WITNESSED', `snapshot v${version} has sha256 ${short(sha256)}; block ${candidates[0]!.block.index} (witnessed) records ${short(candidates[0]!.block.payload.snapshot.sha256)}`, {
        hint: 'the snapshot differs from the one the witnesses co-signed at the same version (mix-and-match against the log); report it',
      });
    }
    this.candidates = matching;
  }

  /** Top-level targets bytes: the witnessed targets of the matched block. */
  checkTargets(bytes: Uint8Array, urlVersion: number | undefined): void {
    const candidates = this.requireCandidates('targets');
    const sha256 = sha256Hex(bytes);
    const expected = candidates[0]!.block.payload.targets;
    if (urlVersion !== undefined && !candidates.some((w) => w.block.payload.targets.version === urlVersion)) {
      throw new ClientError('NOT_WITNESSED', `the updater fetched targets v${urlVersion}; block ${candidates[0]!.block.index} (witnessed) records targets v${expected.version}`);
    }
    const matching = candidates.filter((w) => w.block.payload.targets.sha256 === sha256);
    if (matching.length === 0) {
      throw new ClientError('NOT_WITNESSED', `targets has sha256 ${short(sha256)}; block ${candidates[0]!.block.index} (witnessed) records targets v${expected.version} with ${short(expected.sha256)}`, {
        hint: 'the top-level targets differ from what the witnesses co-signed; report it',
      });
    }
    this.candidates = matching;
  }

  /**
   * After the TUF workflow: the snapshot and top-level targets it accepted (downloaded or a
   * still-valid local copy) are the witnessed ones, the trusted root lies between the matched
   * block's root and the head's, and the snapshot pins every role it lists by length and sha256
   * (UNPINNED_ROLE otherwise), which from now on every delegated role fetched must match.
   * Returns the matched block.
   */
  checkAccepted(accepted: { root: RootEnvelope; snapshot: SnapshotEnvelope; targets: TargetsEnvelope }): WitnessedBlock {
    this.checkSnapshot(accepted.snapshot.raw, undefined);
    this.checkTargets(accepted.targets.raw, undefined);
    const matched = this.candidates![0]!;
    const low = matched.block.payload.root.version;
    const high = this.head.payload.root.version;
    const root = accepted.root.version;
    if (root < low || root > high) {
      throw new ClientError('NOT_WITNESSED', `the trusted root is v${root}; the witnessed state (block ${matched.block.index}) has root v${low}${high === low ? '' : `, the head v${high}`}`);
    }
    const snapshot = accepted.snapshot;
    this.requirePinned(snapshot);
    const consistent = accepted.root.signed.consistentSnapshot;
    this.pinned = new Map();
    for (const [file, meta] of Object.entries(snapshot.signed.meta)) {
      const role = file.slice(0, -'.json'.length);
      if (role === 'targets') continue; // the block records the top-level targets itself
      this.pinned.set(metadataFileName(role, consistent ? meta.version : undefined), { role, version: meta.version, length: meta.length!, sha256: meta.hashes!.sha256! });
    }
    return matched;
  }

  /** The witnessed snapshot pins every role it lists by length and sha256 (UNPINNED_ROLE otherwise). */
  private requirePinned(snapshot: SnapshotEnvelope): void {
    const unpinned = describeUnpinnedRoles(snapshot);
    if (unpinned === undefined) return;
    throw new ClientError('UNPINNED_ROLE', `the witnessed snapshot v${snapshot.version} (block ${this.candidates![0]!.block.index}) lists ${unpinned}: the log does not commit to their bytes`, {
      hint: 'the repository must turn meta hashes on (its publisher runs cairn repo enable-meta-hashes DIR, then cairn repo publish); until then its delegated roles are not covered by the log',
    });
  }

  /** The delegated role the updater fetches under file name `name`, as the witnessed snapshot pins it (after checkAccepted). */
  pinnedRole(name: string): PinnedRole | undefined {
    return this.pinned?.get(name);
  }

  /** A delegated role file: exactly the length and sha256 the witnessed snapshot gives for it. */
  checkDelegatedRole(pin: PinnedRole, bytes: Uint8Array): void {
    const matched = this.candidates![0]!;
    const sha256 = sha256Hex(bytes);
    if (bytes.byteLength !== pin.length || sha256 !== pin.sha256) {
      throw new ClientError('NOT_WITNESSED', `${pin.role} v${pin.version} is ${bytes.byteLength} bytes with sha256 ${short(sha256)}; the witnessed snapshot v${matched.block.payload.snapshot.version} (block ${matched.block.index}) pins ${pin.length} bytes with ${short(pin.sha256)}`, {
        hint: 'the role was re-signed at the same version after the witnesses co-signed the release (a delegated key and a mirror working together); report it',
      });
    }
  }

  /**
   * The witnessed blocks that pass `enough`: just the head when it passes `wanted` (a stricter
   * test), else every witnessed block, which fetches the predecessor. The predecessor is needed
   * only inside a publish window, so a refresh outside one never reads it.
   */
  private async lookup(wanted: (w: WitnessedBlock) => boolean, enough = wanted): Promise<WitnessedBlock[]> {
    const head: WitnessedBlock = { block: this.head, which: 'head' };
    if (enough(head) && wanted(head)) return [head];
    return (await this.witnessed()).filter(enough);
  }

  private requireCandidates(what: string): WitnessedBlock[] {
    if (this.candidates === undefined) {
      throw new ClientError('NOT_WITNESSED', `${what} was reached before a witnessed timestamp was accepted`);
    }
    return this.candidates;
  }
}

/** The `snapshot.json` entry of an untrusted timestamp (its signatures are TUF's to check, next). */
function snapshotEntryOf(bytes: Uint8Array, maxBytes: number): { version: number; sha256: string | undefined } {
  const fail = (why: string): ClientError => new ClientError('NOT_WITNESSED', `timestamp.json cannot be matched against the log: ${why}`);
  let doc;
  try {
    doc = parseJsonObject(bytes, 'timestamp.json', { maxBytes, ...TIMESTAMP_SHAPE });
  } catch (e) {
    throw fail((e as Error).message);
  }
  const signed = doc.signed;
  const meta = signed !== null && typeof signed === 'object' && !Array.isArray(signed) ? signed.meta : undefined;
  const entry = meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? meta['snapshot.json'] : undefined;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || entry === undefined) throw fail('it has no signed.meta["snapshot.json"]');
  const version = entry.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw fail('its snapshot version is not a positive integer');
  const hashes = entry.hashes;
  let sha256: string | undefined;
  if (hashes !== undefined && hashes !== null && typeof hashes === 'object' && !Array.isArray(hashes) && typeof hashes.sha256 === 'string') {
    sha256 = hashes.sha256.toLowerCase();
  }
  return { version, sha256 };
}

/**
 * A Fetcher for the TUF updater that passes target files through and holds back root,
 * timestamp, snapshot, top-level targets and every delegated role the witnessed snapshot pins
 * until the checker has matched them against the witnessed blocks (each is read whole, within
 * the cap the updater asked for), so a refused document never reaches the updater's files.
 */
export class WitnessCheckingFetcher implements Fetcher {
  private readonly metadataBaseUrl: string;

  constructor(
    private readonly inner: Fetcher,
    metadataBaseUrl: string,
    private readonly checker: WitnessChecker,
  ) {
    this.metadataBaseUrl = directoryUrl(metadataBaseUrl);
  }

  stream(url: string, maxBytes: number): AsyncIterable<Uint8Array> {
    if (!url.startsWith(this.metadataBaseUrl)) return this.inner.stream(url, maxBytes);
    const name = url.slice(this.metadataBaseUrl.length);
    const pin = this.checker.pinnedRole(name);
    if (pin !== undefined) return this.checked(url, maxBytes, (bytes) => this.checker.checkDelegatedRole(pin, bytes));
    const doc = classifyMetadataName(name);
    if (doc === undefined) return this.inner.stream(url, maxBytes);
    return this.checked(url, maxBytes, (bytes) => this.checker.check(doc, bytes, maxBytes));
  }

  private async *checked(url: string, maxBytes: number, check: (bytes: Uint8Array) => void | Promise<void>): AsyncIterable<Uint8Array> {
    const bytes = await fetchAll(this.inner, url, maxBytes);
    await check(bytes);
    yield bytes;
  }
}
