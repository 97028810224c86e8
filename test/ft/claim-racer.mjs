// A claim racer for test/ft/arbiter.test.ts and control-conformance.test.ts: one real process racing others
// for the same generations. argv: SPEC SECRETFILE VM HOSTID MODE(sync|free) MAXGEN.
// sync: prints "ready", then for each line "go G" on stdin claims G and prints one JSON result line.
// free: claims generation()+1 as fast as it can until MAXGEN is claimed; prints one JSON line per claim.
import { createInterface } from 'node:readline';
import { openControl } from '../../dist/src/ft/control.js';

const [spec, secretFile, vm, hostId, mode, maxGen] = process.argv.slice(2);
const cp = await openControl(spec, { secretFile });
const me = { hostId, pid: process.pid, addr: `127.0.0.1:${10000 + (process.pid % 50000)}` };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
if (mode === 'sync') {
  out({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const m = /^go (\d+)$/.exec(line);
    if (!m) break;
    const g = Number(m[1]);
    out({ g, ...(await cp.claim(vm, g, me)) });
  }
} else {
  for (;;) {
    const g = (await cp.generation(vm)) + 1;
    if (g > Number(maxGen)) break;
    try {
      out({ g, ...(await cp.claim(vm, g, me)) });
    } catch (e) {
      if (e.code !== 'CLAIM_GAP') throw e; // read g-1 before its claim was visible to us: try again
    }
  }
}
await cp.close();
