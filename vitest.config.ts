import { defineConfig } from 'vitest/config';

// Tests that run processes against real time (FT roles with failure detectors and heartbeats,
// followers of a live log, FIFOs and sockets fed while a guest runs) run one file at a time, after the
// rest: they bound what must happen, not how fast, but a machine shared by two CPU-bound test files
// gives them nothing to gain. The rest (the CPU, the devices, record/replay judged against recorded
// inputs, CLI usage, gdb) runs two files at a time (vitest's default on 2 cores is one worker).
// (Host inputs, replay's stderr, progress lines and followers of a live log bound what must happen the same way
// and are light: they run with the rest, two files at a time, which keeps npm test under its 10 minutes.)
const SERIAL = ['test/ft/**/*.test.ts', 'test/cli/ft.test.ts'];
// CoreMark's sources are third-party and live outside the repository (../shared/coremark): its
// correctness test is `npm run test:coremark` (and `npm run bench` checks the CRCs), so that
// `npm test` on a clone without them still judges everything the repository holds.
const OWN_SCRIPT = process.env.X86FT_COREMARK === '1' ? [] : ['test/coremark.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: [...SERIAL, ...OWN_SCRIPT], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'serial', include: SERIAL, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
