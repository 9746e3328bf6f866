// cli/commands/repo.ts: `cairn repo`: the publisher side of a TUF repository (TUF spec 1.0.x
// sections 4 and 6) over the library in src/repo: init, add/remove targets, delegate (paths,
// hash bins, succinct bins), rotate-root, sign (in place or detached), merge-signature, publish
// and status. Private keys only ever come from key files named on the command line.
import type { Command } from 'commander';
import type { TufPublicKey } from '../../crypto/public-key.js';
import type { JsonObject } from '../../encoding/canonical-json.js';
import { parseJsonObject } from '../../encoding/bounded-json.js';
import { UsageError, short } from '../../errors/index.js';
import {
  addPackage, addTargets, customWithDeclaration, refreshRole, collectTargetSources, delegateHashBins, delegatePaths, delegateSuccinct, enableMetaHashes, formatStatus, initRepository, mergeSignatureFiles,
  readPublicKeys, removeTargets, repoStatus, rotateRoot, signRole, writeDetachedSignature,
  TOP_LEVEL_ROLES, type DeclarationInput, type RoleChange, type SignatureReport, type TopLevelRole,
} from '../../repo/index.js';
import { DEFAULT_PASSPHRASE_ENV } from '../passphrase.js';
import { DEFAULT_CALL_TIMEOUT_MS, parseAttestationSource, publishRelease } from '../../release/index.js';
import { blockLines, settledLines } from '../release-lines.js';
import { buildPolicyJson } from '../../policy/index.js';
import { addDeclarationOptions } from '../declaration-options.js';
import { collect, durationOption, expiryOption, loadLeaderKey, positiveInt, loadSigners } from '../options.js';
import type { CliContext } from './types.js';

interface BuildPolicyOpts {
  buildVerifierKey: string[];
  buildQuorum?: number;
  buildRequireFullIsolation: boolean;
  buildRequireUpstreamFetch: boolean;
}

/** The build policy of --build-verifier-key and --build-quorum, or undefined when neither is given. */
async function buildPolicyOption(opts: BuildPolicyOpts): Promise<JsonObject | undefined> {
  if (opts.buildVerifierKey.length === 0 && opts.buildQuorum === undefined && !opts.buildRequireFullIsolation && !opts.buildRequireUpstreamFetch) return undefined;
  if (opts.buildVerifierKey.length === 0) throw new UsageError('MISSING_ARGUMENT', '--build-quorum, --build-require-full-isolation and --build-require-upstream-fetch need the verifiers\' keys', { hint: 'pass --build-verifier-key FILE for each verifier' });
  const keys = await readPublicKeys(opts.buildVerifierKey);
  return buildPolicyJson(keys, opts.buildQuorum ?? keys.length, { requireFullIsolation: opts.buildRequireFullIsolation, requireUpstreamFetch: opts.buildRequireUpstreamFetch });
}

const buildPolicyOptions = (c: Command): Command =>
  c.option('--build-verifier-key <file>', 'build verifier public key file (repeatable): record the build policy in root (x-cairn-build-policy)', collect, [])
    .option('--build-quorum <k>', 'PASSED rebuild attestations from distinct verifiers each new artifact needs (default: every verifier)', positiveInt('--build-quorum'))
    .option('--build-require-full-isolation', 'count only attestations rebuilt under full isolation (bubblewrap); witnesses refuse the others', false)
    .option('--build-require-upstream-fetch', 'witnesses co-sign an imported source only after fetching its upstream file from their own mirrors', false);

function policyLines(policy: JsonObject | null | undefined): string[] {
  if (policy === undefined) return [];
  if (policy === null) return ['build policy removed from root'];
  const verifiers = Object.keys(policy.verifiers as JsonObject);
  return [`build policy in root: ${String(policy.quorum)} of ${verifiers.length} verifier(s) (${verifiers.map((k) => short(k)).join(', ')}) must rebuild each new artifact${policy.requireFullIsolation === true ? ' under full isolation' : ''}${policy.requireUpstreamFetch === true ? '; witnesses must fetch each imported source\'s upstream file themselves' : ''}`];
}

function changeLines(changes: readonly RoleChange[]): string[] {
  return changes.map((c) => `${c.role} v${c.version} staged, expires ${c.expires}, signed by ${c.signedBy.length} key(s) given`);
}

function reportLines(reports: readonly SignatureReport[]): string[] {
  return reports.map((r) => `${r.role} v${r.version}: ${r.distinctKeys}/${r.threshold} signatures` + (r.met ? ' (threshold met)' : `; missing ${r.missing.join(', ')}`));
}

interface SigningOpts {
  key: string[];
  passphraseEnv: string;
  expires?: Date;
}

export function register(program: Command, context: CliContext): void {
  const repo = program.command('repo').description('publish a TUF repository: keys, targets, delegations, signing, publishing');
  const signing = (c: Command): Command =>
    c.option('--key <file>', 'sign the changed roles with this private key file (repeatable; only roles it belongs to)', collect, [])
      .option('--passphrase-env <name>', 'environment variable with the key files\' passphrase', DEFAULT_PASSPHRASE_ENV)
      .option('--expires <when>', 'expiry of the changed roles: a duration (90d) or a date-time', expiryOption('--expires'));

  const init = repo.command('init').description('create a repository: root and targets v1; snapshot and timestamp at first publish').argument('<dir>', 'workspace directory');
  for (const role of TOP_LEVEL_ROLES) {
    init.option(`--${role}-key <file>`, `key file (public or private) of the ${role} role (repeatable)`, collect, [])
      .option(`--${role}-threshold <n>`, `signatures needed for ${role}`, positiveInt(`--${role}-threshold`), 1)
      .option(`--${role}-expires <duration>`, `lifetime of ${role} metadata (default ${{ root: '365d', targets: '90d', snapshot: '7d', timestamp: '1d' }[role]})`, durationOption(`--${role}-expires`));
  }
  signing(buildPolicyOptions(init).option('--no-consistent-snapshot', 'serve plain file names instead of VERSION.NAME / HASH.NAME')
    .option('--no-meta-hashes', 'list roles in snapshot by version only (smaller; a repository without a release log only: a log refuses it)'))
    .action(async (dir: string, opts: Record<string, unknown> & SigningOpts & BuildPolicyOpts & { consistentSnapshot: boolean; metaHashes: boolean }) => {
      const out = context.output();
      const roles = {} as Record<TopLevelRole, { keys: TufPublicKey[]; threshold: number }>;
      const expirySeconds: Partial<Record<TopLevelRole, number>> = {};
      for (const role of TOP_LEVEL_ROLES) {
        const files = opts[`${role}Key`] as string[];
        if (files.length === 0) throw new UsageError('MISSING_ARGUMENT', `no key for role ${role}`, { hint: `pass --${role}-key FILE (cairn key generate --out FILE makes one)` });
        roles[role] = { keys: await readPublicKeys(files), threshold: opts[`${role}Threshold`] as number };
        const exp = opts[`${role}Expires`] as number | undefined;
        if (exp !== undefined) expirySeconds[role] = exp;
      }
      const buildPolicy = await buildPolicyOption(opts);
      const changes = await initRepository(dir, {
        roles, expirySeconds, consistentSnapshot: opts.consistentSnapshot, metaHashes: opts.metaHashes,
        signers: await loadSigners(opts.key, opts.passphraseEnv), ...(buildPolicy ? { buildPolicy } : {}),
      });
      out.result({ dir, changes, buildPolicy: buildPolicy ?? null }, [`initialized ${dir}`, ...changeLines(changes), ...policyLines(buildPolicy), `next: sign root and targets (cairn repo sign), then cairn repo publish ${dir}`]);
    });

  addDeclarationOptions(signing(repo.command('add').description('add files or directories (recursively) as targets; content is copied into the repository')
    .argument('<dir>', 'workspace directory').argument('<files...>', 'files or directories')
    .option('--path <target>', 'target path of a single file, or prefix for a directory\'s files')
    .option('--base <dir>', 'target paths relative to this directory')
    .option('--custom <json>', 'custom metadata (a JSON object) for each target')
    .option('--role <name>', 'targets role to add to (default: where delegations route the path)')))
    .action(async (dir: string, files: string[], opts: SigningOpts & DeclarationInput & { path?: string; base?: string; custom?: string; role?: string }) => {
      const out = context.output();
      const custom = opts.custom === undefined ? undefined : (parseJsonObject(opts.custom, '--custom', { maxBytes: 1 << 20, maxDepth: 16, maxEntries: 100_000 }) as JsonObject);
      const { sources, skipped } = await collectTargetSources(files, { path: opts.path, baseDir: opts.base });
      for (const s of skipped) out.warn(`skipped ${s} (not a regular file)`);
      const { added, changes } = await addTargets(dir, sources, {
        role: opts.role, custom: await customWithDeclaration(opts, sources, custom), expires: opts.expires, signers: await loadSigners(opts.key, opts.passphraseEnv),
      });
      out.result({ added, skipped, changes }, [...added.map((a) => `added ${a.path} -> ${a.role} (${a.length} bytes, sha256 ${a.sha256.slice(0, 12)})`), ...changeLines(changes)]);
    });

  addDeclarationOptions(signing(repo.command('add-package').description('publish a package archive made by cairn pack: its target with the manifest in custom metadata, and its versions index')
    .argument('<dir>', 'workspace directory').argument('<archive>', 'package archive (NAME-VERSION.tar)')
    .option('--role <name>', 'targets role to add to (default: where delegations route the path)')))
    .action(async (dir: string, archive: string, opts: SigningOpts & DeclarationInput & { role?: string }) => {
      const out = context.output();
      const custom = await customWithDeclaration(opts, [{ file: archive, path: archive }], undefined);
      const { manifest, added, changes } = await addPackage(dir, archive, {
        role: opts.role, custom, expires: opts.expires, signers: await loadSigners(opts.key, opts.passphraseEnv),
      });
      out.result({ manifest, added, changes }, [`published ${manifest.name} ${manifest.version}`, ...added.map((a) => `added ${a.path} -> ${a.role} (${a.length} bytes, sha256 ${a.sha256.slice(0, 12)})`), ...changeLines(changes)]);
    });

  signing(repo.command('remove').description('remove targets (a directory with --recursive)')
    .argument('<dir>', 'workspace directory').argument('<paths...>', 'target paths')
    .option('--role <name>', 'targets role to remove from')
    .option('-r, --recursive', 'remove every target under each path', false))
    .action(async (dir: string, paths: string[], opts: SigningOpts & { role?: string; recursive: boolean }) => {
      const out = context.output();
      const { removed, changes } = await removeTargets(dir, paths, {
        role: opts.role, recursive: opts.recursive, expires: opts.expires, signers: await loadSigners(opts.key, opts.passphraseEnv),
      });
      out.result({ removed, changes }, [...removed.map((r) => `removed ${r.path} from ${r.role}`), ...changeLines(changes)]);
    });

  signing(repo.command('delegate').description('delegate targets to a role (path patterns), to classic hash bins, or to succinct hash bins')
    .argument('<dir>', 'workspace directory').argument('<name>', 'delegated role name (the name prefix for bins)')
    .option('--paths <pattern>', 'path pattern delegated to NAME (repeatable)', collect, [])
    .option('--hash-bins <n>', 'delegate to N classic hash bins NAME-XX (power of two)', positiveInt('--hash-bins'))
    .option('--succinct-bits <b>', 'delegate to 2^b succinct hash bins NAME-XX (TAP 15)', positiveInt('--succinct-bits'))
    .option('--delegate-key <file>', 'key file (public or private) of the delegated role (repeatable)', collect, [])
    .option('--threshold <n>', 'signatures needed for the delegated role', positiveInt('--threshold'), 1)
    .option('--terminating', 'stop the client\'s search at this role (bins are terminating by default)')
    .option('--from <role>', 'delegating role', 'targets'))
    .action(async (dir: string, name: string, opts: SigningOpts & { paths: string[]; hashBins?: number; succinctBits?: number; delegateKey: string[]; threshold: number; terminating?: boolean; from: string }) => {
      const out = context.output();
      const kinds = [opts.paths.length > 0, opts.hashBins !== undefined, opts.succinctBits !== undefined].filter(Boolean).length;
      if (kinds !== 1) throw new UsageError('BAD_ARGUMENT', 'give exactly one of --paths, --hash-bins, --succinct-bits');
      if (opts.delegateKey.length === 0) throw new UsageError('MISSING_ARGUMENT', 'the delegated role needs keys', { hint: 'pass --delegate-key FILE' });
      const options = {
        from: opts.from, keys: await readPublicKeys(opts.delegateKey), threshold: opts.threshold, terminating: opts.terminating,
        expires: opts.expires, signers: await loadSigners(opts.key, opts.passphraseEnv),
      };
      const result = opts.hashBins !== undefined ? await delegateHashBins(dir, name, opts.hashBins, options)
        : opts.succinctBits !== undefined ? await delegateSuccinct(dir, name, opts.succinctBits, options)
          : await delegatePaths(dir, name, opts.paths, options);
      out.result(result, [`${opts.from} delegates to ${result.roles.length} role(s)${result.roles.length <= 4 ? `: ${result.roles.join(', ')}` : ''}`,
        ...changeLines(result.changes.filter((c) => c.role === opts.from)), `${result.changes.length} role(s) staged`]);
    });

  const rotate = repo.command('rotate-root').description('stage root version N+1 with new keys or thresholds; needs the old and new root thresholds')
    .argument('<dir>', 'workspace directory');
  for (const role of TOP_LEVEL_ROLES) {
    rotate.option(`--${role}-key <file>`, `new key set of ${role} (repeatable; replaces the old set)`, collect, [])
      .option(`--${role}-threshold <n>`, `new threshold of ${role}`, positiveInt(`--${role}-threshold`));
  }
  signing(buildPolicyOptions(rotate).option('--remove-build-policy', 'remove the build policy from root')
    .option('--consistent-snapshot', 'turn consistent snapshots on').option('--no-consistent-snapshot', 'turn consistent snapshots off'))
    .action(async (dir: string, opts: Record<string, unknown> & SigningOpts & BuildPolicyOpts & { consistentSnapshot?: boolean; removeBuildPolicy?: boolean }) => {
      const out = context.output();
      const roles: Partial<Record<TopLevelRole, { keys?: TufPublicKey[]; threshold?: number }>> = {};
      for (const role of TOP_LEVEL_ROLES) {
        const files = opts[`${role}Key`] as string[];
        const threshold = opts[`${role}Threshold`] as number | undefined;
        if (files.length > 0 || threshold !== undefined) roles[role] = { ...(files.length > 0 ? { keys: await readPublicKeys(files) } : {}), ...(threshold !== undefined ? { threshold } : {}) };
      }
      const newPolicy = await buildPolicyOption(opts);
      if (newPolicy && opts.removeBuildPolicy) throw new UsageError('CONFLICT', 'give either --build-verifier-key/--build-quorum or --remove-build-policy');
      const buildPolicy = opts.removeBuildPolicy ? null : newPolicy;
      const changes = await rotateRoot(dir, {
        roles, consistentSnapshot: opts.consistentSnapshot, expires: opts.expires, signers: await loadSigners(opts.key, opts.passphraseEnv),
        ...(buildPolicy !== undefined ? { buildPolicy } : {}),
      });
      out.result({ changes, ...(buildPolicy !== undefined ? { buildPolicy } : {}) }, [...changeLines(changes), ...policyLines(buildPolicy), 'root must now be signed by the threshold of the old and of the new root keys (cairn repo sign --role root)']);
    });

  signing(repo.command('refresh').description('stage a role again unchanged: new version and expiry, to be signed again')
    .argument('<dir>', 'workspace directory')
    .requiredOption('--role <name>', 'root, targets or a delegated role'))
    .action(async (dir: string, opts: SigningOpts & { role: string }) => {
      const out = context.output();
      const changes = await refreshRole(dir, opts.role, { expires: opts.expires, signers: await loadSigners(opts.key, opts.passphraseEnv) });
      out.result({ changes }, changeLines(changes));
    });

  repo.command('sign').description('sign a staged role with one key file, in place or as a detached signature file')
    .argument('<dir>', 'workspace directory')
    .requiredOption('--role <name>', 'role to sign (root, targets or a delegated role)')
    .option('--key <file>', 'private key file (repeatable)', collect, [])
    .option('--detached <file>', 'write a signature file instead of changing the workspace (one key)')
    .option('--passphrase-env <name>', 'environment variable with the key file\'s passphrase', DEFAULT_PASSPHRASE_ENV)
    .action(async (dir: string, opts: { role: string; key: string[]; detached?: string; passphraseEnv: string }) => {
      const out = context.output();
      if (opts.key.length === 0) throw new UsageError('MISSING_ARGUMENT', 'no key to sign with', { hint: 'pass --key FILE' });
      const signers = await loadSigners(opts.key, opts.passphraseEnv);
      if (opts.detached !== undefined) {
        if (signers.length !== 1) throw new UsageError('BAD_ARGUMENT', '--detached writes one signature: give exactly one --key');
        const sig = await writeDetachedSignature(dir, opts.role, signers[0]!, opts.detached);
        out.result({ role: sig.role, version: sig.version, keyid: sig.keyid, file: opts.detached },
          `signature of ${sig.role} v${sig.version} by ${sig.keyid} written to ${opts.detached}`);
        return;
      }
      const reports = await signRole(dir, opts.role, signers);
      out.result({ role: opts.role, signatures: reports }, reportLines(reports));
    });

  repo.command('merge-signature').description('merge detached signature files into the staged roles')
    .argument('<dir>', 'workspace directory').argument('<files...>', 'signature files from cairn repo sign --detached')
    .action(async (dir: string, files: string[]) => {
      const out = context.output();
      const all = await mergeSignatureFiles(dir, files);
      out.result({ signatures: all }, reportLines(all));
    });

  repo.command('publish').description('sign snapshot and timestamp and write the served tree DIR/public (refuses any role below its threshold)')
    .argument('<dir>', 'workspace directory')
    .option('--key <file>', 'snapshot and timestamp private key files (repeatable)', collect, [])
    .option('--passphrase-env <name>', 'environment variable with the key files\' passphrase', DEFAULT_PASSPHRASE_ENV)
    .option('--snapshot-expires <when>', 'snapshot expiry: duration or date-time', expiryOption('--snapshot-expires'))
    .option('--timestamp-expires <when>', 'timestamp expiry: duration or date-time', expiryOption('--timestamp-expires'))
    .option('--witness-timeout <ms>', 'with a release log: deadline of each call to a witness', positiveInt('--witness-timeout'), DEFAULT_CALL_TIMEOUT_MS)
    .option('--attestations-from <keyid=url>', 'pull the new artifacts\' attestations of verifier KEYID from the tree it serves (URL or directory; repeatable)', collect, [])
    .option('--leader-key <file>', 'with a release log: witness key file (DIR/witness-key.json) of a roster member, which signs the requests to the witnesses')
    .action(async (dir: string, opts: { key: string[]; passphraseEnv: string; snapshotExpires?: Date; timestampExpires?: Date; witnessTimeout: number; attestationsFrom: string[]; leaderKey?: string }) => {
      const out = context.output();
      // A repository with a release log first settles a release saved when its round failed, then
      // has the witnesses co-sign the new state before anything of it is written.
      const { result, logged, settled } = await publishRelease(dir, {
        signers: await loadSigners(opts.key, opts.passphraseEnv),
        snapshotExpires: opts.snapshotExpires, timestampExpires: opts.timestampExpires,
        leader: { callTimeoutMs: opts.witnessTimeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out, attestationsFrom: { sources: opts.attestationsFrom.map(parseAttestationSource) },
      });
      out.result({ ...result, ...(logged ? { log: logged } : {}), ...(settled ? { settled } : {}) }, [
        ...(settled ? settledLines(settled) : []),
        ...(logged ? blockLines(logged) : []),
        ...result.published.map((p) => `published ${p.role} v${p.version}`),
        `${result.targetFiles} target file(s); root v${result.rootVersion}, snapshot v${result.snapshotVersion}, timestamp v${result.timestampVersion}`,
      ]);
    });

  repo.command('enable-meta-hashes').description('turn meta hashes on: the next publish writes a snapshot that pins every role by length and sha256 (a release log needs it)')
    .argument('<dir>', 'workspace directory')
    .action(async (dir: string) => {
      const out = context.output();
      const changed = await enableMetaHashes(dir);
      out.result({ dir, metaHashes: true, changed }, [
        changed ? `meta hashes on in ${dir}` : `meta hashes were already on in ${dir}`,
        `next: cairn repo publish ${dir} --key FILE... (writes a snapshot that pins every role)`,
      ]);
    });

  repo.command('status').description('per role: version, expiry, threshold, signatures present/missing; staged changes; exits 1 when a role has expired')
    .argument('<dir>', 'workspace directory')
    .option('--warn <duration>', 'warn about expiry within this window (default: a quarter of each role\'s lifetime)', durationOption('--warn'))
    .action(async (dir: string, opts: { warn?: number }) => {
      const out = context.output();
      const status = await repoStatus(dir, { warnSeconds: opts.warn });
      out.result(status, formatStatus(status));
      if (status.problems.length > 0) context.setExitCode(1);
    });
}
