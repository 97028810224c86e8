import { defineConfig } from 'vitest/config';

// Tests that run FT roles, CLI processes or gdb against real time (failure detectors, heartbeats,
// followers) run one file at a time, after the rest: they bound what must happen, not how fast, but
// a machine shared by two CPU-bound test files gives them nothing to gain. The rest (the CPU, the
// devices, record/replay judged against recorded inputs) runs two files at a time.
const SERIAL = ['test/ft/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/debug/**/*.test.ts', 'test/replay/*follow*.test.ts'];
// CoreMark's sources are third-party and live outside the repository (../shared/coremark): its
// correctness test is `npm run test:coremark` (and `npm run bench` checks the CRCs), so that
// `npm test` on a clone without them still judges everything the repository holds.
const OWN_SCRIPT = process.env.X86FT_COREMARK === '1' ? [] : ['test/coremark.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: [...SERIAL, ...OWN_SCRIPT], maxWorkers: 2, minWorkers: 1, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'serial', include: SERIAL, maxWorkers: 1, minWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
