// cli/commands/types.ts: the contract between cli/main.ts and each command group.
import type { Command } from 'commander';
import type { Output } from '../output.js';

export interface CliContext {
  /** Output configured from the global options (call inside an action, after parsing). */
  output(): Output;
  /** Exit code of the process once the action returns (default 0). */
  setExitCode(code: number): void;
}

export interface CommandModule {
  register(program: Command, context: CliContext): void;
}
