// Preloaded into every node process of a test cluster (NODE_OPTIONS=--require this file): a process started as
// `x86ft ft primary …` blocks its main thread before it loads anything, so it never creates its VM — a primary
// that hangs at start; the test then kills it. Every other process (agents, `ft start`) runs normally.
'use strict';
if (process.argv[2] === 'ft' && process.argv[3] === 'primary') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
