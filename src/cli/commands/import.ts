// cli/commands/import.ts: `cairn import debian SOURCE[=VERSION]` and `cairn import npm
// NAME[@VERSION]`, an upstream release exactly as its author published it through a verified
// chain, and `cairn import verify DIR`, that chain checked again from the directory alone
// (docs/upstream.md): parse, call the upstream layer, print each link.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors/index.js';
import { defaultStoreRoot } from '../../store/index.js';
import {
  importDebianSource, importNpmPackage, npmRegistry, readKeyring, verifyImportDirectory, type ImportSummary,
} from '../../upstream/index.js';
import type { CommandModule } from './types.js';

interface ImportOpts {
  out?: string;
  aptDir?: string;
  origin: string;
  allowUnsignedUpstream?: boolean;
  stateDir?: string;
}

/** What a verified import proves, line by line (`cairn import verify`, `cairn build --import`). */
export function importSummaryLines(s: ImportSummary): string[] {
  const p = s.provenance;
  if (p.kind === 'npm') {
    return [
      `verified ${p.name}@${p.version} from ${p.registry}: ${p.upstream.file}, its integrity ${p.upstream.integrity.slice(0, 30)}...`,
      `  ${s.archiveSigners.length === 0 ? 'signature NOT checked: the registry lists no keys (pin them with --keys)' : `signed by the registry: key ${s.archiveSigners[0]!}`}`,
    ];
  }
  return [
    `verified ${p.source} ${p.version}: ${p.upstream.file}, sha256 ${p.upstream.sha256}`,
    `  release file of ${p.archive.origin}'s ${p.archive.uri} ${p.archive.suite} (${p.release.date}) signed by ${s.archiveSigners.map((f) => f.toUpperCase()).join(', ')}; index, .dsc and tarball as it lists them`,
    `  ${s.upstreamSigner !== null ? `signed by the upstream: key ${s.upstreamSigner.toUpperCase()}` : 'NOT signed by its upstream (recorded so, and the index lists no signature)'}`,
  ];
}

/** A file named on the command line (a key list, a keyring). */
function readArgumentFile(path: string, option: string): Promise<Buffer> {
  return readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError('BAD_ARGUMENT', `${option} ${path} cannot be read (${e.code ?? e.message})`);
  });
}

export const importCommand: CommandModule = {
  register(program: Command, context) {
    const group = program.command('import').description('take upstream releases exactly as their authors published them, through a verified chain');
    group.command('debian').description('the upstream tarball of a Debian source package, verified from the signed archive apt names to the upstream\'s own signature')
      .argument('<source>', 'SOURCE or SOURCE=VERSION (Debian\'s version, e.g. hello=2.10-3; default the newest the archives have)')
      .option('--out <dir>', 'where to write the tarball, its provenance and the bytes of each link (must not exist; default SOURCE-VERSION.upstream)')
      .option('--allow-unsigned-upstream', 'import even when the upstream signed nothing (recorded in the provenance)', false)
      .option('--apt-dir <dir>', 'apt\'s configuration directory, whose sources and keyrings name the archives (default /etc/apt)')
      .option('--origin <name>', 'take it only from archives whose signed release file has this Origin', 'Debian')
      .option('--state-dir <dir>', 'where the dates of release files seen before and the cached indexes are kept (default ~/.local/share/cairn/upstream)')
      .action(async (spec: string, opts: ImportOpts) => {
        const out = context.output();
        const [source, version] = spec.split('=', 2) as [string, string | undefined];
        if (!/^[a-z0-9][a-z0-9+.-]+$/.test(source) || (version !== undefined && !/^[A-Za-z0-9.+~:-]+$/.test(version))) throw new UsageError('BAD_ARGUMENT', `expected SOURCE or SOURCE=VERSION (a Debian source package name, e.g. hello=2.10-3), found ${JSON.stringify(spec.slice(0, 80))}`);
        const state = resolve(opts.stateDir ?? join(defaultStoreRoot('user'), 'upstream'));
        const target = resolve(opts.out ?? `${source}${version === undefined ? '' : `-${version}`}.upstream`);
        const { provenance: p } = await importDebianSource({
          source, version, out: target, allowUnsignedUpstream: opts.allowUnsignedUpstream === true,
          seenReleasesFile: join(state, 'seen-releases.json'), cacheDir: join(state, 'cache'),
          ...(opts.aptDir === undefined ? {} : { etcApt: resolve(opts.aptDir) }),
          origin: opts.origin,
          onProgress: (line) => out.info(line),
          onWarning: (line) => out.warn(line),
        });
        const signed = 'signer' in p.signature
          ? `signed by the upstream: key ${p.signature.signer.toUpperCase()} (debian/upstream/signing-key.asc), ${p.signature.signedAt}`
          : 'NOT signed by its upstream (imported with --allow-unsigned-upstream; recorded)';
        out.result({ out: target, provenance: p }, [
          `imported ${source} ${p.version}: ${target}/${p.upstream.file}, ${p.upstream.size} bytes, sha256 ${p.upstream.sha256}`,
          `  release file: ${p.archive.uri} ${p.archive.suite}, dated ${p.release.date}, signed by ${p.release.signers.map((s) => s.toUpperCase()).join(', ')}`,
          `  index: ${p.index.path}, sha256 ${p.index.sha256}`,
          `  source package: ${p.dsc.file}, sha256 ${p.dsc.sha256}`,
          `  ${signed}`,
          `  Debian's patches: not applied (${p.debianTarball.file} was read only for the upstream's key)`,
          `provenance: ${target}/provenance.json`,
          `next: cairn build --import ${target} --import-uri URL --out OUT --command '...' --output PATH (the upstream's tarball, as it is, is the declared source; URL: where you publish ${target} for the witnesses)`,
        ]);
      });
    group.command('npm').description('a package as its author published it to the registry npm is configured with: its integrity, and the registry\'s signature where it has keys')
      .argument('<package>', 'NAME or NAME@VERSION (default the latest dist-tag)')
      .option('--registry <url>', 'the registry (default the one npm is configured with: npm config get registry)')
      .option('--keys <file>', 'the registry\'s key list (/-/npm/v1/keys) as you pinned it, instead of the registry\'s own answer')
      .option('--out <dir>', 'where to write the tarball and its provenance (must not exist; default NAME-VERSION.upstream)')
      .action(async (spec: string, opts: { registry?: string; keys?: string; out?: string }) => {
        const out = context.output();
        const at = spec.lastIndexOf('@');
        // importNpmPackage refuses a name or version that is not one (before the default --out below is used).
        const [name, version] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, undefined];
        const keysFile = opts.keys === undefined ? undefined : await readArgumentFile(opts.keys, '--keys');
        const target = resolve(opts.out ?? `${name.replace(/^@/, '').replace('/', '-')}${version === undefined ? '' : `-${version}`}.upstream`);
        const { provenance: p } = await importNpmPackage({
          name, version, registry: opts.registry ?? (await npmRegistry(name)), out: target,
          ...(keysFile === undefined ? {} : { keysFile }),
          onProgress: (line) => out.info(line),
        });
        if (p.signature === null) out.warn(`${p.registry} lists no signing keys: ${name}@${p.version} is proven by its integrity alone (recorded in the provenance); pin the key list with --keys to require a signature`);
        out.result({ out: target, provenance: p }, [
          `imported ${name}@${p.version}: ${target}/${p.upstream.file}, ${p.upstream.size} bytes, ${p.upstream.integrity.slice(0, 30)}...`,
          `  ${p.signature === null ? 'NOT signed: the registry lists no keys' : `signed by the registry: key ${p.signature.keyid}`}${p.publishedAt === null ? '' : `, published ${p.publishedAt}`}`,
          `provenance: ${target}/provenance.json`,
        ]);
      });
    group.command('verify').description('verify an import again from its directory alone, as a witness does: every link, with your own keyring for the archive')
      .argument('<dir>', 'the directory cairn import wrote')
      .option('--keyring <file>', 'Debian: a keyring to check the archive\'s release file with (repeatable; default the one apt checks that archive with)', (v: string, all: string[]) => [...all, v], [] as string[])
      .option('--apt-dir <dir>', 'Debian: apt\'s configuration directory, for the default keyring (default /etc/apt)')
      .option('--origin <name>', 'Debian: the signed Origin the archive must have', 'Debian')
      .option('--registry <url>', 'npm: the registry the import must come from (default the one npm is configured with)')
      .option('--keys <file>', 'npm: the registry\'s key list as you pinned it (default the registry\'s answer now)')
      .action(async (dir: string, opts: { keyring: string[]; aptDir?: string; origin: string; registry?: string; keys?: string }) => {
        const out = context.output();
        const keyring = opts.keyring.length > 0 ? await readKeyring(await Promise.all(opts.keyring.map(async (f) => ({ bytes: await readArgumentFile(f, '--keyring'), what: f })))) : undefined;
        const npmKeys = opts.keys === undefined ? undefined : await readArgumentFile(opts.keys, '--keys');
        const summary = await verifyImportDirectory(resolve(dir), {
          origin: opts.origin,
          ...(keyring === undefined ? {} : { keyring }), ...(opts.aptDir === undefined ? {} : { etcApt: resolve(opts.aptDir) }),
          ...(opts.registry === undefined ? {} : { npmRegistry: opts.registry }), ...(npmKeys === undefined ? {} : { npmKeys }),
        });
        out.result({ verified: true, ...summary }, importSummaryLines(summary));
      });
  },
};
