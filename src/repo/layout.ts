// repo/layout.ts: where a publisher workspace keeps its files (TUF spec 1.0.x section 6,
// "Repository operations"; section 4 for the metadata files). One workspace directory DIR:
//
//   DIR/cairn-repo.json                 configuration: format, consistent snapshots, default expiry
//                                       per role, whether snapshot/timestamp meta carry hashes
//   DIR/staged/metadata/root.json       the working root: the published one, or version N+1 being
//                                       rotated (unsigned or partially signed until publish)
//   DIR/staged/metadata/targets.json    the working top-level targets role
//   DIR/staged/metadata/NAME.json       the working copy of each delegated role (hash bins too);
//                                       one file per role, so a change loads only the roles it touches
//   DIR/staged/metadata/snapshot.json   the last published snapshot (its meta is the published
//                                       version of every targets role: nothing else is re-read)
//   DIR/staged/metadata/timestamp.json  the last published timestamp
//   DIR/state/pending.json              journal of staged changes not yet published: changed role
//                                       names and new target blobs; written before the role files,
//                                       cleared after the timestamp is published
//   DIR/state/delegations.json          which role delegates each delegated role (name -> delegator),
//                                       so a role's keys are found without walking the whole tree
//   DIR/state/roots/N.root.json         every root version ever published (the rotation chain)
//   DIR/state/lock                      held (O_EXCL, pid and command inside) by the command that
//                                       changes the workspace; others wait (docs/cli.md "Concurrent commands")
//   DIR/state/log.json                  with a release log: the leader's pointer to its head
//   DIR/state/pending-release/          with a release log: the release (and the proposal of its
//                                       block) kept while the witnesses co-sign it
//   DIR/blobs/sha256/AB/HEX             target contents, content-addressed by SHA-256
//   DIR/public/                         what mirrors serve, written only by `publish`:
//     metadata/N.root.json, root.json, timestamp.json,
//     metadata/V.snapshot.json, V.targets.json, V.NAME.json   (consistent snapshots, spec 6.2)
//     metadata/snapshot.json, targets.json, NAME.json         (plain names, always, latest)
//     targets/DIR/SHA256.BASENAME       (consistent snapshots) or targets/PATH (plain)
//     log/                              the release log (docs/protocol.md section 7)
//     attestations/                     the verifiers' attestations (docs/verified-builds.md section 5)
//
// The workspace never holds private keys: every signature comes from a key file given on the
// command line. Staged files are Metadata wire form ({signed, signatures}) with stable formatting.
import { join } from 'node:path';

export const CONFIG_FILE = 'cairn-repo.json';

export interface RepoLayout {
  readonly dir: string;
  readonly config: string;
  readonly stagedDir: string;
  readonly pending: string;
  readonly delegations: string;
  readonly rootsDir: string;
  readonly blobsDir: string;
  /** The leader state of the repository's release log. */
  readonly logState: string;
  /** The lock every command that changes the workspace holds (workspace.ts withWorkspaceLock). */
  readonly lock: string;
  /** The release kept while its block is co-signed. */
  readonly pendingReleaseDir: string;
  /** The tree mirrors serve. */
  readonly publicDir: string;
  readonly publicMetadata: string;
  readonly publicTargets: string;
  staged(role: string): string;
  archivedRoot(version: number): string;
  blob(sha256: string): string;
}

export function repoLayout(dir: string): RepoLayout {
  const stagedDir = join(dir, 'staged', 'metadata');
  const blobsDir = join(dir, 'blobs', 'sha256');
  const rootsDir = join(dir, 'state', 'roots');
  const publicDir = join(dir, 'public');
  return {
    dir,
    config: join(dir, CONFIG_FILE),
    stagedDir,
    pending: join(dir, 'state', 'pending.json'),
    delegations: join(dir, 'state', 'delegations.json'),
    rootsDir,
    blobsDir,
    logState: join(dir, 'state', 'log.json'),
    lock: join(dir, 'state', 'lock'),
    pendingReleaseDir: join(dir, 'state', 'pending-release'),
    publicDir,
    publicMetadata: join(publicDir, 'metadata'),
    publicTargets: join(publicDir, 'targets'),
    staged: (role) => join(stagedDir, `${role}.json`),
    archivedRoot: (version) => join(rootsDir, `${version}.root.json`),
    blob: (sha256) => join(blobsDir, sha256.slice(0, 2), sha256),
  };
}

/** Where a target is served under public/targets (spec 5.7.3 / 6.2: HASH.BASENAME in the same directory). */
export function publicTargetPath(targetPath: string, sha256: string, consistentSnapshot: boolean): string {
  if (!consistentSnapshot) return targetPath;
  const slash = targetPath.lastIndexOf('/');
  return slash < 0 ? `${sha256}.${targetPath}` : `${targetPath.slice(0, slash + 1)}${sha256}.${targetPath.slice(slash + 1)}`;
}
