// apps/errors.ts: typed errors of App-per-VM (docs/apps.md): grants and their audit trail. Each
// code names one condition; messages say what failed and why, the hint what to run next.
import { CairnError, EXIT } from '../errors/index.js';

export type AppErrorCode =
  /** The app named is not installed in the active generation of the store. */
  | 'NOT_INSTALLED'
  /** A grant of a permission the app does not request, without --unrequested. */
  | 'NOT_REQUESTED'
  /** A revocation of a permission that is not granted. */
  | 'NOT_GRANTED'
  /** The audit trail is not the chain cairn appended: an event was changed, removed or inserted. */
  | 'AUDIT_TAMPERED'
  /** A back end cannot give the VM what the spec holds (a share without a block image, a path its format cannot quote). */
  | 'UNSUPPORTED'
  /** The runtime (guest kernel and initramfs) is missing, or cannot be built here. */
  | 'RUNTIME_UNAVAILABLE'
  /** The hypervisor is missing, failed, or the guest ended without reporting the app's exit status. */
  | 'VM_FAILED'
  /** A revocation for an app whose VM is running, without --restart. */
  | 'RUNNING'
  /** `cairn stop` for an app that is not running. */
  | 'NOT_RUNNING'
  /** A granted inbound port the host cannot give the app in the user scope (in use, or privileged). */
  | 'PORT_UNAVAILABLE';

const HINTS: Partial<Record<AppErrorCode, string>> = {
  NOT_INSTALLED: 'cairn list shows the installed apps',
  NOT_REQUESTED: 'cairn permissions APP lists what it requests; granting anything else needs --unrequested',
  NOT_GRANTED: 'cairn permissions APP lists what is granted',
  RUNTIME_UNAVAILABLE: 'cairn runtime build makes it (on a Debian system with apt)',
  VM_FAILED: 'QEMU must be installed (sudo apt-get install qemu-system-x86); the output above says what the guest printed',
  RUNNING: 'a revocation takes effect when the app next starts: cairn stop APP first, or revoke with --restart, which stops it',
  NOT_RUNNING: 'cairn ps lists the running apps',
  PORT_UNAVAILABLE: 'ss -ltnup shows what holds the port; stop it, or revoke the permission (cairn revoke APP network:inbound:PORT/PROTO)',
  UNSUPPORTED: 'docs/apps.md "VM configurations" lists what each back end supports; choose another back end or revoke the permission',
  AUDIT_TAMPERED: 'the grants database was changed outside cairn: restore it from a backup, or revoke and grant again after checking every grant',
};

export class AppError extends CairnError<AppErrorCode> {
  constructor(code: AppErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { hint: options?.hint ?? HINTS[code], cause: options?.cause });
  }

  get exitCode(): number {
    return this.code === 'AUDIT_TAMPERED' ? EXIT.verification : EXIT.usage;
  }
}
