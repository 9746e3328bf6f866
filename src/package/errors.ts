// package/errors.ts: typed refusals of the package layer (docs/packages.md): a manifest, a
// permission or a versions index that does not follow the format, a tree `cairn pack` will not
// archive, and each way an archive can try to escape or exhaust safe extraction.
import { CairnError, EXIT } from '../errors/index.js';

export type PackageErrorCode =
  | 'BAD_MANIFEST' // cairn-package.json does not follow the manifest format (or is not canonical in an archive)
  | 'UNKNOWN_PERMISSION' // a permission outside the vocabulary, or malformed
  | 'BAD_VERSIONS_INDEX' // a versions index document does not follow its format
  | 'UNSUPPORTED_FILE' // pack: a device, FIFO or socket, a file that changed while read, a path or link too long for ustar
  | 'MISSING_ENTRY_POINT' // an entry point that is not a regular file of the package
  | 'MISSING_MANIFEST' // no regular cairn-package.json at the package's root
  | 'UNSAFE_PATH' // absolute, "..", ".", empty, control characters, backslash, too long
  | 'LINK_ESCAPES' // a symbolic link that is absolute or resolves outside the package
  | 'THROUGH_LINK' // an entry whose parent path is (or goes through) a symbolic link of the archive
  | 'HARD_LINK' // any hard link entry
  | 'SPECIAL_FILE' // a device, FIFO or entry of unknown type
  | 'DUPLICATE_ENTRY' // the same path twice (also a file and a directory of one name)
  | 'NAME_COLLISION' // two names equal once case-folded and NFC-normalized
  | 'TOO_MANY_ENTRIES' // over ExtractLimits.maxEntries
  | 'TOO_LARGE' // over a byte cap (one file, the whole content, the manifest)
  | 'BAD_ARCHIVE' // not a well-formed uncompressed ustar archive (checksum, magic, truncation, numbers)
  | 'DESTINATION_EXISTS'; // extraction's destination already exists

export class PackageError extends CairnError<PackageErrorCode> {
  get exitCode(): number {
    return this.code === 'DESTINATION_EXISTS' ? EXIT.io : EXIT.format;
  }
}
