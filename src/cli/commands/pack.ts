// cli/commands/pack.ts: `cairn pack`, a package source directory to a reproducible package
// archive (docs/packages.md): the manifest checked, the deterministic ustar written atomically,
// then what to run to publish it as the target packages/NAME/NAME-VERSION.tar.
import type { Command } from 'commander';
import { basename } from 'node:path';
import {
  CUSTOM_FIELD, describePermission, manifestBytes, packageTargetPath, packDirectory, readManifestFile,
} from '../../package/index.js';
import { epochSeconds } from '../options.js';
import type { CliContext } from './types.js';

interface PackOpts {
  out?: string;
  sourceDateEpoch?: number;
}

/** `text` quoted for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function register(program: Command, context: CliContext): void {
  program.command('pack').description('make a reproducible package archive from a directory holding a cairn-package.json manifest')
    .argument('<dir>', 'package directory (its cairn-package.json names the package, its entry points and permissions)')
    .option('--out <file>', 'archive to write (default: NAME-VERSION.tar in the current directory)')
    .option('--source-date-epoch <seconds>', 'mtime of every entry (default: $SOURCE_DATE_EPOCH, else 0)', epochSeconds('--source-date-epoch'))
    .action(async (dir: string, opts: PackOpts) => {
      const out = context.output();
      let outFile = opts.out;
      if (outFile === undefined) {
        const manifest = await readManifestFile(dir);
        outFile = basename(packageTargetPath(manifest.name, manifest.version));
      }
      const result = await packDirectory(dir, outFile, opts.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: opts.sourceDateEpoch });
      const m = result.manifest;
      const target = packageTargetPath(m.name, m.version);
      const custom = `{"${CUSTOM_FIELD}":${manifestBytes(m).toString('utf8')}}`;
      const lines = [
        `packed ${m.name} ${m.version}: ${result.outFile}, ${result.length} bytes, ${result.entries} entries, sha256 ${result.sha256}`,
        ...Object.entries(m.entryPoints).map(([command, path]) => `entry point ${command}: ${path}`),
        ...(m.permissions.length === 0 ? ['permissions: none'] : m.permissions.map((p) => `permission ${p}: ${describePermission(p)}`)),
        `next: cairn repo add-package REPO ${shellQuote(result.outFile)} (publishes it as ${target} with this manifest, and its versions index)`,
      ];
      out.result({ ...result, target, custom: JSON.parse(custom) as unknown }, lines);
    });
}
