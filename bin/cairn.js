#!/usr/bin/env node
// bin/cairn.js: the `cairn` executable. Runs the TypeScript CLI through tsx's loader, so that
// `npm install` alone gives a working command (no separate build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
