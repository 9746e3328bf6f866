// client/root-bootstrap.ts: installing the root a witnessed block records (docs/protocol.md
// section 9 "Clients and the log"). A block records the version and sha256 of its root, and the
// witnesses checked the root chain (each root signed by its predecessor's threshold, TUF spec
// 5.3.4) before they co-signed it; so a client many rotations behind fetches the one root the
// head block names, checks its bytes against the block and that it is a root signed by its own
// threshold, and installs it, instead of walking every N+1.root.json. The TUF workflow then runs
// from that root; any root it fetches is still matched against the log (client/witness-check.ts).
import { short } from '../errors/index.js';
import { sha256Hex } from '../crypto/hash.js';
import { FetchError } from '../io/fetch.js';
import type { Block } from '../log/index.js';
import { TufError, parseEnvelope, readTrustedRoot, verifySelfSignedRoot, type MetadataFiles, type UpdaterConfig } from '../tuf/index.js';
import { ClientError } from './errors.js';

/** A root installed straight from the witnessed head block. */
export interface RootBootstrapReport {
  from: number;
  to: number;
  /** Root documents fetched for the bootstrap (1: the one the block names). */
  rootsFetched: number;
}

/**
 * When the witnessed head block records a root newer than the trusted one, fetch that
 * N.root.json (in a publish window, when it is not there yet, the predecessor's, if newer than
 * ours), check its sha256 against the block and that it is a root signed by its own threshold,
 * and install it. Returns null when no root was installed.
 */
export async function bootstrapRoot(
  files: MetadataFiles,
  config: UpdaterConfig,
  head: Block,
  loadPredecessor: () => Promise<Block | undefined>,
): Promise<RootBootstrapReport | null> {
  const from = parseEnvelope('root', await readTrustedRoot(files.metadataDir, config.rootMaxLength), 'trusted root.json').version;
  if (head.payload.root.version <= from) return null;
  let block = head;
  let bytes: Buffer;
  try {
    bytes = await files.fetch('root', config.rootMaxLength, head.payload.root.version);
  } catch (e) {
    // In a publish window the head's root may not be published yet: install the predecessor's
    // when it is newer than ours, else leave the root to TUF (the checker still refuses any
    // root the two blocks do not record, and the accepted state must match one of them).
    if (!(e instanceof FetchError && e.code === 'NOT_FOUND')) throw e;
    const predecessor = await predecessorWithNewerRoot(head, from, loadPredecessor);
    if (predecessor === undefined) return null;
    block = predecessor;
    bytes = await files.fetch('root', config.rootMaxLength, predecessor.payload.root.version);
  }
  const { version, sha256 } = block.payload.root;
  const actual = sha256Hex(bytes);
  if (actual !== sha256) {
    throw new ClientError('NOT_WITNESSED', `${version}.root.json has sha256 ${short(actual)}; the witnessed block ${block.index} records root v${version} with ${short(sha256)}`, {
      hint: 'the mirror serves a root the witnesses did not co-sign; try another mirror and report it',
    });
  }
  const root = parseEnvelope('root', bytes, `${version}.root.json`);
  if (root.version !== version) throw new TufError('BAD_VERSION', `${version}.root.json holds root v${root.version}`);
  verifySelfSignedRoot(root, `${version}.root.json`);
  await files.persist('root', bytes);
  return { from, to: version, rootsFetched: 1 };
}

/** The predecessor of `head` when its root is newer than `from` and older than the head's (the publish-window fallback). */
async function predecessorWithNewerRoot(head: Block, from: number, loadPredecessor: () => Promise<Block | undefined>): Promise<Block | undefined> {
  if (head.index === 0) return undefined;
  const predecessor = await loadPredecessor().catch(() => undefined);
  if (predecessor === undefined) return undefined;
  const v = predecessor.payload.root.version;
  return v > from && v < head.payload.root.version ? predecessor : undefined;
}
