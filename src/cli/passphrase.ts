// cli/passphrase.ts: where a command gets the passphrase of an encrypted key file. Never from a
// command-line argument (it would show in `ps` and shell history): from the environment
// variable named by --passphrase-env (default CAIRN_PASSPHRASE), else from a prompt on a TTY.
import { createInterface } from 'node:readline/promises';

export const DEFAULT_PASSPHRASE_ENV = 'CAIRN_PASSPHRASE';

/** The passphrase to use, or undefined for unencrypted keys. Prompts only when `prompt` and on a TTY. */
export async function readPassphrase(envName: string = DEFAULT_PASSPHRASE_ENV, prompt?: string): Promise<string | undefined> {
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (prompt === undefined || !process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Hide what is typed: print the prompt ourselves and mute the echo.
  const rlWithOutput = rl as unknown as { _writeToOutput?: (s: string) => void };
  process.stderr.write(prompt);
  rlWithOutput._writeToOutput = () => undefined;
  try {
    const answer = await rl.question('');
    process.stderr.write('\n');
    return answer === '' ? undefined : answer;
  } finally {
    rl.close();
  }
}
