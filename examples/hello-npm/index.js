#!/usr/bin/env node
// examples/hello-npm/index.js: a small Node.js package built with `npm pack`, which writes a
// reproducible tarball (fixed entry mtimes, sorted entries, normalized modes).
'use strict';

function greet(who = 'world') {
  return `hello, ${who}`;
}

module.exports = { greet };

if (require.main === module) console.log(greet(process.argv[2]));
