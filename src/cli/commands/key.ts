// cli/commands/key.ts: `cairn key`: generate an Ed25519 key pair into a 0600 key file (optionally
// passphrase-encrypted) plus FILE.pub.json, and show a key file's ID and public key. Key
// material is never printed (TUF spec 1.0.x 4.2 "KEYS"; docs/design.md: Ed25519 only).
import type { Command } from 'commander';
import { UsageError } from '../../errors/index.js';
import { describeKeyFile, generateKeyFiles } from '../../repo/index.js';
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
      const passphrase = async (): Promise<string> => {
        const text = await readPassphrase(opts.passphraseEnv, `passphrase for ${opts.out}: `);
        if (text === undefined) throw new UsageError('MISSING_ARGUMENT', '--encrypt needs a passphrase', { hint: `set ${opts.passphraseEnv} or run on a terminal to be prompted` });
        return text;
      };
      const made = await generateKeyFiles(opts.out, { ...(opts.encrypt ? { passphrase } : {}), force: opts.force });
      out.result({ keyid: made.keyid, keytype: 'ed25519', file: made.file, publicFile: made.publicFile, encrypted: made.encrypted },
        [`keyid ${made.keyid}`, `private key: ${made.file} (mode 0600${made.encrypted ? ', encrypted' : ''})`, `public key: ${made.publicFile}`]);
    });

  key.command('show')
    .description('print the key ID and public key of a key file (private or .pub.json)')
    .argument('<file>', 'key file')
    .action(async (file: string) => {
      const out = context.output();
      const described = await describeKeyFile(file);
      const { keyid, public: publicKey } = described;
      const encrypted = described.private ? described.encrypted : undefined;
      out.result({ keyid, public: publicKey, ...(encrypted === undefined ? {} : { private: true, encrypted }) },
        [`keyid ${keyid}`, `${publicKey.keytype}/${publicKey.scheme} ${publicKey.keyval.public}`,
          ...(encrypted === undefined ? [] : [`private key file${encrypted ? ', encrypted' : ''}`])]);
    });
}
