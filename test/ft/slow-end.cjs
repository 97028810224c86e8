// Preloaded into the `x86ft ft primary` of test/ft/join-end.test.ts (NODE_OPTIONS=--require this file): while the
// file named by X86FT_TEST_END_GATE exists, the primary's write of its VM record as 'ended' (dir: control plane: a
// new revision file, linked into vms/NAME/record/) waits, and GATE.held says so. A primary whose end is slow to be
// recorded (a loaded control plane) keeps its run open meanwhile: the test joins a secondary in that window.
// Every other process, and every other write, runs normally.
'use strict';
const gate = process.env.X86FT_TEST_END_GATE;
if (gate && process.argv[2] === 'ft' && process.argv[3] === 'primary') {
  const fs = require('fs');
  const link = fs.promises.link;
  fs.promises.link = async function (from, to, ...rest) {
    if (/[\\/]record[\\/][^\\/]+$/.test(String(to)) && fs.existsSync(gate)) {
      let ended = false;
      try { ended = fs.readFileSync(from, 'utf8').includes('"state":"ended"'); } catch { /* not a record */ }
      if (ended) {
        fs.writeFileSync(`${gate}.held`, '');
        while (fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
      }
    }
    return link.call(this, from, to, ...rest);
  };
}
