// cli/output.ts: how every command talks to people and scripts (docs/cli.md "Global options").
// Human output goes to stdout as short lines; with --json, one JSON document on stdout whatever
// happens, errors included; long-running services print one JSON line per event. Errors become one
// readable line plus a hint and the exit code of their family; stack traces only with --debug.
// This is the one error path of the command line: a system fault (a missing file, a port in
// use) is typed here if no layer typed it, and only a bug is an internal error (exit 70).
// Human output is made printable first: messages carry bytes from others (a build log, a
// publisher's recipe, target names), and control sequences must not reach the terminal.
import { asCairnError, EXIT } from '../errors/index.js';

/**
 * C0 controls but tab and newline, DEL, C1 controls (CSI is one byte there), and the Unicode
 * bidirectional overrides: what lets text from others rewrite the screen, set the clipboard
 * (OSC 52) or reorder what the operator reads.
 */
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character shown as an escape (\u001b), never sent to the terminal. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface OutputOptions {
  json: boolean;
  debug: boolean;
  quiet: boolean;
}

export class Output {
  constructor(readonly options: OutputOptions) {}

  /** A progress or status line for people; silent in --json and --quiet modes. */
  info(line: string): void {
    if (!this.options.json && !this.options.quiet) process.stdout.write(printable(line) + '\n');
  }

  /** The command's result: `human` for people, `data` for --json. */
  result(data: unknown, human?: string | string[]): void {
    if (this.options.json) {
      process.stdout.write(JSON.stringify(data, null, 2) + '\n');
    } else if (human !== undefined) {
      process.stdout.write(printable(Array.isArray(human) ? human.join('\n') : human) + '\n');
    }
  }

  warn(line: string): void {
    process.stderr.write(`warning: ${printable(line)}\n`);
  }

  /**
   * One event of a long-running service: with --json a JSON line `{ time, type, ...data }`, else
   * `human` (a warning goes to stderr); a 'progress' event is not printed with --quiet.
   */
  event(type: string, data: object, human: string, level: 'result' | 'progress' | 'warning' = 'result'): void {
    if (this.options.json) {
      process.stdout.write(JSON.stringify({ time: new Date().toISOString(), type, ...data }) + '\n');
    } else if (level === 'warning') {
      this.warn(human);
    } else if (level === 'result' || !this.options.quiet) {
      process.stdout.write(printable(human) + '\n');
    }
  }

  /** Reports an error and returns the exit code to use. */
  error(e: unknown): number {
    const typed = asCairnError(e);
    if (typed) {
      if (this.options.json) {
        process.stdout.write(JSON.stringify(typed.toJSON()) + '\n');
      } else {
        process.stderr.write(`error [${typed.code}]: ${printable(typed.message)}\n`);
        if (typed.hint) process.stderr.write(`hint: ${printable(typed.hint)}\n`);
      }
      if (this.options.debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      return typed.exitCode;
    }
    const message = e instanceof Error ? e.message : String(e);
    if (this.options.json) {
      process.stdout.write(JSON.stringify({ error: 'InternalError', code: 'INTERNAL', message }) + '\n');
    } else {
      process.stderr.write(`internal error: ${printable(message)}\n`);
      process.stderr.write(this.options.debug && e instanceof Error && e.stack ? e.stack + '\n' : 'hint: run again with --debug for details\n');
    }
    return EXIT.internal;
  }
}
