// cli/index.ts: the public API of the command line (docs/cli.md): `main` runs `cairn` on an argv
// (bin/cairn.js calls it), and the table of command groups it loads lazily.
export { main, selectedGroup, COMMAND_GROUPS, type CommandGroup } from './main.js';
