// cli/commands/key.ts: `cairn key`: generate an Ed25519 key pair into a 0600 key file (optionally
// passphrase-encrypted) plus FILE.pub.json, and show a key file's ID and public key. Key
// material is never printed (TUF spec 1.0.x 4.2 "KEYS"; docs/design.md: Ed25519 only).
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { generateEd25519 } from '../../crypto/signer.js';
import { writeKeyFile, readKeyFileHeader, KEY_FILE_FORMAT } from '../../crypto/key-file.js';
import { StorageError, UsageError } from '../../errors/index.js';
import { readPublicKey, writePublicKeyFile } from '../../repo/key-files.js';
import { DEFAULT_PASSPHRASE_ENV, readPassphrase } from '../passphrase.js';
import type { CliContext } from './types.js';

export function register(program: Command, context: CliContext): void {
  const key = program.command('key').description('Ed25519 signing keys for repository roles');

  key.command('generate')
    .description('write a new Ed25519 key pair: FILE (private, mode 0600) and FILE.pub.json')
    .requiredOption('--out <file>', 'private key file to create')
    .option('--encrypt', 'encrypt the private key with a passphrase (scrypt + AES-256-GCM)', false)
    .option('--passphrase-env <name>', 'environment variable holding the passphrase', DEFAULT_PASSPHRASE_ENV)
    .option('--force', 'overwrite existing files', false)
    .action(async (opts: { out: string; encrypt: boolean; passphraseEnv: string; force: boolean }) => {
      const out = context.output();
      const pubPath = `${opts.out}.pub.json`;
      if (!opts.force) {
        for (const p of [opts.out, pubPath]) {
          if (await stat(p).then(() => true, () => false)) throw new StorageError('EXISTS', `${p} already exists`, { hint: 'choose another --out or pass --force' });
        }
      }
      let passphrase: string | undefined;
      if (opts.encrypt) {
        passphrase = await readPassphrase(opts.passphraseEnv, `passphrase for ${opts.out}: `);
        if (passphrase === undefined) {
          throw new UsageError('MISSING_ARGUMENT', '--encrypt needs a passphrase', { hint: `set ${opts.passphraseEnv} or run on a terminal to be prompted` });
        }
      }
      const { privateKey, signer } = generateEd25519();
      await writeKeyFile(opts.out, privateKey, passphrase);
      await writePublicKeyFile(pubPath, signer.publicKey);
      out.result({ keyid: signer.keyid, keytype: 'ed25519', file: opts.out, publicFile: pubPath, encrypted: passphrase !== undefined },
        [`keyid ${signer.keyid}`, `private key: ${opts.out} (mode 0600${passphrase !== undefined ? ', encrypted' : ''})`, `public key: ${pubPath}`]);
    });

  key.command('show')
    .description('print the key ID and public key of a key file (private or .pub.json)')
    .argument('<file>', 'key file')
    .action(async (file: string) => {
      const out = context.output();
      const { keyid, key: publicKey } = await readPublicKey(file);
      let encrypted: boolean | undefined;
      try {
        const header = await readKeyFileHeader(file);
        if (header.format === KEY_FILE_FORMAT) encrypted = header.encryption !== null;
      } catch {
        encrypted = undefined; // a public key file
      }
      out.result({ keyid, public: publicKey, ...(encrypted === undefined ? {} : { private: true, encrypted }) },
        [`keyid ${keyid}`, `${publicKey.keytype}/${publicKey.scheme} ${publicKey.keyval.public}`,
          ...(encrypted === undefined ? [] : [`private key file${encrypted ? ', encrypted' : ''}`])]);
    });
}
