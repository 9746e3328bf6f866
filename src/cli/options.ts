// cli/options.ts: option parsers and key loading shared by the command groups.
import { readKeyFileHeader, loadSigner as loadKeyFileSigner } from '../crypto/key-file.js';
import type { Signer } from '../crypto/signer.js';
import { UsageError } from '../errors/index.js';
import { readPassphrase } from './passphrase.js';

/** commander reducer for a repeatable option. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** commander parser for a positive integer option named `name`. */
export function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError('BAD_ARGUMENT', `${name} must be a positive integer, not "${v}"`);
    return n;
  };
}

/** Loads signers from key files, asking for a passphrase (env or prompt) only for encrypted ones. */
export async function loadSigners(paths: readonly string[], passphraseEnv: string): Promise<Signer[]> {
  const out: Signer[] = [];
  for (const path of paths) {
    const header = await readKeyFileHeader(path);
    const passphrase = header.encryption ? await readPassphrase(passphraseEnv, `passphrase for ${path}: `) : undefined;
    out.push(await loadKeyFileSigner(path, passphrase));
  }
  return out;
}

/** Loads one signer from a key file (see loadSigners). */
export async function loadSigner(path: string, passphraseEnv: string): Promise<Signer> {
  return (await loadSigners([path], passphraseEnv))[0]!;
}
