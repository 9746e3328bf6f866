// mirror/index.ts: the public API of the mirror (docs/cli.md "Mirrors"): `cairn serve`, a
// read-only HTTP server of a repository's static files. Other layers import from here only.
export { startMirror, resolveRequestPath, type MirrorOptions, type RunningMirror } from './mirror.js';
