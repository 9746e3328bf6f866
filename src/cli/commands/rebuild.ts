// cli/commands/rebuild.ts: `cairn rebuild`, the build verifier (DESIGN.md "Build verification";
// docs/verified-builds.md): `run` rebuilds one artifact and signs the verdict, `serve` watches a
// repository and rebuilds every new declared artifact with a durable queue, `check` applies the
// witnesses' quorum rule to attestation files.
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readKeyFileHeader, loadSigner } from '../../crypto/key-file.js';
import type { Signer } from '../../crypto/signer.js';
import type { TufPublicKey } from '../../crypto/public-key.js';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { BoundedFetcher } from '../../io/fetch.js';
import { UsageError, short } from '../../errors/index.js';
import {
  attestationDirectory, attestationFilePrefix, checkAttestationQuorum, describeDifferences, parseDeclarationFile, serializeAttestation,
  type DsseEnvelope, type ReleaseDeclaration,
} from '../../policy/index.js';
import { readPublicKey } from '../../repo/index.js';
import {
  RebuildError, attestationFile, fetchSource, findDeclaredArtifact, freshOutputDir, locateArtifactBytes, rebuildAndAttest, serveRebuilds,
  type IsolationPreference, type ServeEvent,
} from '../../rebuild/index.js';
import { DEFAULT_PASSPHRASE_ENV, readPassphrase } from '../passphrase.js';
import { isolationOption, secondsOption } from './build.js';
import { collect } from '../options.js';
import type { CliContext } from './types.js';


/** Largest published artifact fetched by URL for comparison. */
const MAX_ARTIFACT_BYTES = 4 * 1024 * 1024 * 1024;

async function verifierSigner(path: string, passphraseEnv: string): Promise<Signer> {
  const header = await readKeyFileHeader(path);
  return loadSigner(path, header.encryption ? await readPassphrase(passphraseEnv, `passphrase for ${path}: `) : undefined);
}

interface RunOpts {
  key: string;
  passphraseEnv: string;
  repo?: string;
  target?: string;
  declaration?: string;
  artifact?: string;
  out?: string;
  isolation: IsolationPreference;
  timeout?: number;
}

interface ServeOpts {
  repo: string;
  key: string;
  db: string;
  passphraseEnv: string;
  poll: number;
  once: boolean;
  isolation: IsolationPreference;
  maxAttempts: number;
  retryDelay: number;
  timeout?: number;
}

interface CheckOpts {
  repo?: string;
  target: string;
  sha256?: string;
  attestation: string[];
  verifierKey: string[];
  quorum: number;
}

export function register(program: Command, context: CliContext): void {
  const rebuild = program.command('rebuild').description('verify builds: rebuild artifacts from their declared source and sign in-toto/DSSE attestations');

  rebuild.command('run').description('rebuild one artifact in isolation, compare with the published bytes, sign PASSED or FAILED')
    .requiredOption('--key <file>', 'the verifier\'s private key file')
    .option('--passphrase-env <name>', 'environment variable with the key file\'s passphrase', DEFAULT_PASSPHRASE_ENV)
    .option('--repo <dir>', 'repository workspace holding the target (its declaration and bytes)')
    .option('--target <path>', 'target path in --repo')
    .option('--declaration <file>', 'a declaration file (cairn build) instead of --repo/--target')
    .option('--artifact <file-or-url>', 'with --declaration: the published artifact (file path, file:, http: or https: URL)')
    .option('--out <file>', 'where to write the attestation (default with --repo: REPO/public/attestations/TARGET/SHA256.KEYID.dsse.json)')
    .option('--isolation <kind>', 'sandbox: auto, bubblewrap, unshare, none', isolationOption, 'auto')
    .option('--timeout <seconds>', 'time limit of the build', secondsOption('--timeout'))
    .action(async (opts: RunOpts) => {
      const out = context.output();
      const signer = await verifierSigner(opts.key, opts.passphraseEnv);
      let target: string;
      let declaration: ReleaseDeclaration;
      let artifactFile: string;
      let expectedSha256: string | undefined;
      let resourceUri: string;
      let outFile = opts.out;
      let temp: string | undefined;
      if (opts.repo !== undefined) {
        if (opts.target === undefined) throw new UsageError('MISSING_ARGUMENT', '--repo needs --target PATH');
        if (opts.declaration !== undefined) throw new UsageError('CONFLICT', 'give either --repo/--target or --declaration, not both');
        const found = await findDeclaredArtifact(opts.repo, opts.target);
        if (!found) {
          throw new RebuildError('ARTIFACT_NOT_FOUND', `${opts.repo} has no target ${opts.target} with a release declaration`, {
            hint: 'add it with cairn repo add ... --declaration FILE (from cairn build)',
          });
        }
        const bytes = await locateArtifactBytes(opts.repo, found.target, found.sha256);
        if (!bytes) throw new RebuildError('ARTIFACT_NOT_FOUND', `${opts.repo} holds no bytes for ${found.target} (sha256 ${short(found.sha256)})`);
        target = found.target;
        declaration = found.declaration;
        artifactFile = bytes;
        expectedSha256 = found.sha256;
        resourceUri = found.target;
        outFile ??= attestationFile(opts.repo, target, found.sha256, signer.keyid);
      } else {
        if (opts.declaration === undefined) throw new UsageError('MISSING_ARGUMENT', 'say what to rebuild', { hint: 'pass --repo DIR --target PATH, or --declaration FILE --artifact FILE' });
        if (opts.artifact === undefined) throw new UsageError('MISSING_ARGUMENT', '--declaration needs --artifact FILE_OR_URL (the published bytes)');
        if (outFile === undefined) throw new UsageError('MISSING_ARGUMENT', '--declaration needs --out FILE for the attestation');
        const file = parseDeclarationFile(await readFile(opts.declaration), opts.declaration);
        target = file.target;
        declaration = file;
        expectedSha256 = file.artifact.sha256;
        resourceUri = opts.artifact;
        if (/^(https?|file):/.test(opts.artifact)) {
          temp = await freshOutputDir();
          artifactFile = join(temp, 'artifact');
          // fetchSource streams with a cap and checks the digest: the same rule for the artifact.
          await fetchSource({ uri: opts.artifact, sha256: file.artifact.sha256 }, artifactFile, new BoundedFetcher(), MAX_ARTIFACT_BYTES).catch((e: unknown) => {
            if (e instanceof RebuildError && e.code === 'SOURCE_MISMATCH') {
              throw new RebuildError('ARTIFACT_MISMATCH', `${opts.artifact} does not have the sha256 ${short(file.artifact.sha256)} the declaration names`);
            }
            throw e;
          });
        } else {
          artifactFile = opts.artifact;
        }
      }
      try {
        const outcome = await rebuildAndAttest({
          target, artifactFile, expectedSha256, resourceUri, declaration, signer, isolation: opts.isolation,
          timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000, onWarning: (w) => out.warn(w),
        });
        await writeFileAtomic(outFile, serializeAttestation(outcome.envelope));
        const head = `${outcome.result} ${target} (sha256 ${short(outcome.artifact.sha256)})`;
        const lines = outcome.result === 'PASSED'
          ? [`${head}: rebuilt bit-identically under ${outcome.isolation} isolation in ${(outcome.buildMs / 1000).toFixed(1)} s`]
          : [`${head}: the rebuild differs (rebuilt sha256 ${short(outcome.rebuilt.sha256)}): ${describeDifferences(outcome.differences)}`];
        lines.push(`attestation by verifier ${short(signer.keyid)} written to ${outFile}`);
        out.result({
          result: outcome.result, target, sha256: outcome.artifact.sha256, rebuilt: outcome.rebuilt, isolation: outcome.isolation,
          differences: outcome.differences ?? null, verifier: signer.keyid, attestation: outFile, buildMs: outcome.buildMs, totalMs: outcome.totalMs,
        }, lines);
        if (outcome.result === 'FAILED') context.setExitCode(1);
      } finally {
        if (temp) await rm(temp, { recursive: true, force: true });
      }
    });

  rebuild.command('serve').description('watch a repository (staged and published targets) and rebuild every new declared artifact; queue in SQLite')
    .requiredOption('--repo <dir>', 'repository workspace to watch; attestations go to REPO/public/attestations/')
    .requiredOption('--key <file>', 'the verifier\'s private key file')
    .requiredOption('--db <file>', 'SQLite file of the queue and results (created if missing)')
    .option('--passphrase-env <name>', 'environment variable with the key file\'s passphrase', DEFAULT_PASSPHRASE_ENV)
    .option('--poll <seconds>', 'interval between scans of the repository', secondsOption('--poll'), 10)
    .option('--once', 'exit when the queue is empty instead of polling', false)
    .option('--isolation <kind>', 'sandbox: auto, bubblewrap, unshare, none', isolationOption, 'auto')
    .option('--max-attempts <n>', 'attempts before a job without verdict is given up', (v) => Math.max(1, Math.floor(Number(v)) || 1), 3)
    .option('--retry-delay <seconds>', 'delay before retrying a job without verdict (times the attempt number)', secondsOption('--retry-delay'), 60)
    .option('--timeout <seconds>', 'time limit of each build', secondsOption('--timeout'))
    .action(async (opts: ServeOpts) => {
      const out = context.output();
      const signer = await verifierSigner(opts.key, opts.passphraseEnv);
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const json = out.options.json;
      const onEvent = (e: ServeEvent): void => {
        if (json) {
          process.stdout.write(JSON.stringify(e) + '\n');
          return;
        }
        if (e.type === 'start') {
          if (e.warning) out.warn(e.warning);
          out.info(`verifier ${short(signer.keyid)} watching ${opts.repo} (${e.isolation} isolation${e.recovered > 0 ? `, ${e.recovered} interrupted job(s) requeued` : ''})`);
        } else if (e.type === 'queued') {
          if (e.added > 0) out.info(`queued ${e.added} new artifact(s)`);
          for (const p of e.problems) out.warn(p);
        } else if (e.type === 'claimed') {
          out.info(`rebuilding ${e.target} (sha256 ${short(e.sha256)}), attempt ${e.attempt}`);
        } else if (e.type === 'attested' || e.type === 'adopted') {
          process.stdout.write(`${e.result} ${e.target} (sha256 ${short(e.sha256)})${e.type === 'adopted' ? ' (already attested before a restart)' : ''}${'summary' in e && e.summary ? `: ${e.summary}` : ''} -> ${e.attestation}\n`);
        } else {
          out.warn(`${e.target}: [${e.code}] ${e.message}${e.final ? ' (giving up)' : ' (will retry)'}`);
        }
      };
      try {
        const { finished } = await serveRebuilds({
          repoDir: opts.repo, signer, dbPath: opts.db, pollMs: opts.poll * 1000, once: opts.once, isolation: opts.isolation,
          maxAttempts: opts.maxAttempts, retryDelayMs: opts.retryDelay * 1000, timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000,
          signal: controller.signal, onEvent,
        });
        if (!json) out.info(`stopped after ${finished} verdict(s)`);
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
    });

  rebuild.command('check').description('apply the witnesses\' rule: k PASSED attestations from distinct policy verifiers for the exact sha256, no FAILED')
    .requiredOption('--target <path>', 'target path (the attestations\' subject name)')
    .option('--sha256 <hex>', 'the artifact\'s sha256 (default with --repo: from its targets metadata)')
    .option('--repo <dir>', 'read the target\'s sha256 and every attestation under REPO/public/attestations/TARGET/')
    .option('--attestation <file>', 'an attestation file (repeatable)', collect, [])
    .requiredOption('--verifier-key <file>', 'public (or private) key file of a policy verifier (repeatable)', collect, [])
    .requiredOption('--quorum <k>', 'PASSED attestations needed', (v) => Number(v))
    .action(async (opts: CheckOpts) => {
      const out = context.output();
      let sha256 = opts.sha256;
      const files = [...opts.attestation];
      if (opts.repo !== undefined) {
        if (sha256 === undefined) {
          const found = await findDeclaredArtifact(opts.repo, opts.target);
          if (!found) throw new RebuildError('ARTIFACT_NOT_FOUND', `${opts.repo} has no declared target ${opts.target}`);
          sha256 = found.sha256;
        }
        const dir = join(opts.repo, 'public', attestationDirectory(opts.target));
        const prefix = attestationFilePrefix(sha256);
        for (const name of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && n.endsWith('.dsse.json')).sort()) files.push(join(dir, name));
      }
      if (sha256 === undefined) throw new UsageError('MISSING_ARGUMENT', 'pass --sha256 HEX or --repo DIR');
      const keys: TufPublicKey[] = [];
      for (const f of opts.verifierKey) keys.push(f.endsWith('.pub.json') ? (await readPublicKey(f)).key : (await readKeyFileHeader(f)).public);
      const envelopes: Array<DsseEnvelope | Uint8Array> = [];
      for (const f of files) envelopes.push(await readFile(f));
      const report = checkAttestationQuorum({ name: opts.target, sha256 }, envelopes, { verifiers: keys, quorum: opts.quorum });
      out.result({ target: opts.target, sha256, ...report }, [
        `${opts.target} (sha256 ${short(sha256)}): quorum met, PASSED by ${report.passed.map((k) => short(k)).join(', ')}`,
        ...report.ignored.map((i) => `ignored ${files[i.index]}: ${i.reason}`),
      ]);
    });
}
