// `node --import ./test/helpers/block-main.mjs PROGRAM`: SIGUSR2 makes PROGRAM's main thread busy for 3 s (a
// synchronous loop: no timer, no I/O callback, no message from a worker runs meanwhile), then it writes
// "block-main: blocked N ms" to stderr. Used to show that a role whose main thread does not turn is not taken
// for a failed one, nor takes its live peer for one (test/ft/heartbeat-thread.test.ts).
process.on('SIGUSR2', () => {
  const t = Date.now();
  while (Date.now() - t < 3000);
  process.stderr.write(`block-main: blocked ${Date.now() - t} ms\n`);
});
