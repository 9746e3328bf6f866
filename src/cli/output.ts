// cli/output.ts: how every command talks to people and scripts. Human output goes to stdout as
// short lines; with --json, one JSON document. Errors become one readable line plus a hint and
// a distinct exit code (STYLE.md); stack traces only with --debug.
import { CairnError, EXIT } from '../errors/index.js';

export interface OutputOptions {
  json: boolean;
  debug: boolean;
  quiet: boolean;
}

export class Output {
  constructor(readonly options: OutputOptions) {}

  /** A progress or status line for people; silent in --json and --quiet modes. */
  info(line: string): void {
    if (!this.options.json && !this.options.quiet) process.stdout.write(line + '\n');
  }

  /** The command's result: `human` for people, `data` for --json. */
  result(data: unknown, human?: string | string[]): void {
    if (this.options.json) {
      process.stdout.write(JSON.stringify(data, null, 2) + '\n');
    } else if (human !== undefined) {
      process.stdout.write((Array.isArray(human) ? human.join('\n') : human) + '\n');
    }
  }

  warn(line: string): void {
    process.stderr.write(`warning: ${line}\n`);
  }

  /** Reports an error and returns the exit code to use. */
  error(e: unknown): number {
    if (e instanceof CairnError) {
      if (this.options.json) {
        process.stdout.write(JSON.stringify(e.toJSON()) + '\n');
      } else {
        process.stderr.write(`error [${e.code}]: ${e.message}\n`);
        if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
      }
      if (this.options.debug && e.stack) process.stderr.write(e.stack + '\n');
      return e.exitCode;
    }
    const message = e instanceof Error ? e.message : String(e);
    if (this.options.json) {
      process.stdout.write(JSON.stringify({ error: 'InternalError', code: 'INTERNAL', message }) + '\n');
    } else {
      process.stderr.write(`internal error: ${message}\n`);
      process.stderr.write(this.options.debug && e instanceof Error && e.stack ? e.stack + '\n' : 'hint: run again with --debug for details\n');
    }
    return EXIT.internal;
  }
}
