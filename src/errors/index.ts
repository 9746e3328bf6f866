// errors/index.ts: the public API of cairn's typed errors (docs/cli.md "Errors and exit codes"):
// the base class every layer's errors extend, the exit code of each family, the generic families,
// and the typed meaning of the machine's ordinary faults.
export { CairnError, EXIT, FormatError, StorageError, UsageError, isCairnError, short } from './base.js';
export { NetworkError, fromSystemError, asCairnError } from './system.js';
