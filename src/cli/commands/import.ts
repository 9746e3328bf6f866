// cli/commands/import.ts: `cairn import debian SOURCE[=VERSION]`, an upstream release exactly as
// its author published it, through the verified chain of the Debian archive apt names
// (docs/upstream.md): parse, call importDebianSource, print each link.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { defaultStoreRoot } from '../../store/index.js';
import { UsageError } from '../../errors/index.js';
import { importDebianSource } from '../../upstream/index.js';
import type { CommandModule } from './types.js';

interface ImportOpts {
  out?: string;
  allowUnsignedUpstream?: boolean;
  stateDir?: string;
}

export const importCommand: CommandModule = {
  register(program: Command, context) {
    const group = program.command('import').description('take upstream releases exactly as their authors published them, through a verified chain');
    group.command('debian').description('the upstream tarball of a Debian source package, verified from the signed archive apt names to the upstream\'s own signature')
      .argument('<source>', 'SOURCE or SOURCE=VERSION (Debian\'s version, e.g. hello=2.10-3; default the newest the archives have)')
      .option('--out <dir>', 'where to write the tarball, its provenance and the bytes of each link (must not exist; default SOURCE-VERSION.upstream)')
      .option('--allow-unsigned-upstream', 'import even when the upstream signed nothing (recorded in the provenance)', false)
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
          onProgress: (line) => out.info(line),
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
        ]);
      });
  },
};
