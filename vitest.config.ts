import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The FT tests (project 'ft': roles with failure detectors and heartbeats against real time) run after
// the rest, two files at a time like the rest: the forks pool is one for both projects and takes its size from the root's
// maxWorkers (vitest 3.2 applies neither a project's fileParallelism nor its maxWorkers to it), and the
// clean-clone CI runs that passed ran them so. They bound what must happen, not how fast (failure
// timeouts >= 2 s), so they pass beside one another on a loaded machine.
// The rest (the CPU, the devices, record/replay judged against recorded inputs, CLI usage, gdb, and
// the light real-time ones: followers of a live log, host inputs, replay's stderr, progress lines) runs
// first (vitest's default on 2 cores would be one worker).
const FT = ['test/ft/**/*.test.ts', 'test/cli/ft.test.ts'];
// CoreMark's sources are third-party and live outside the repository (../shared/coremark): its
// correctness test is `npm run test:coremark` (and `npm run bench` checks the CRCs), so that
// `npm test` on a clone without them still judges everything the repository holds.
const OWN_SCRIPT = process.env.X86FT_COREMARK === '1' ? [] : ['test/coremark.test.ts'];

/**
 * The files that took longest in the last clean-clone CI run (each > 10 s), longest first. A clean clone has no
 * vitest cache of past durations, so vitest would run files in the order it found them, and a long file found
 * last ran alone at the end of its group (CI: protect-kill's 67 s last in the FT group). Started first, the
 * long files overlap the many short ones. Only the order: a file missing here runs after these.
 */
const LONGEST_FIRST = [
  'test/replay/snapshot-guests.test.ts', 'test/guests.test.ts', 'test/replay/follow-recorder.test.ts', 'test/cli/usage.test.ts',
  'test/cli/host-inputs.test.ts', 'test/devices-guests/chaos.test.ts', 'test/replay/chain.test.ts', 'test/cli/replay-stderr.test.ts',
  'test/replay/torture.test.ts', 'test/machine/boot.test.ts', 'test/replay/big-memory.test.ts', 'test/debug/hooks.test.ts',
  'test/ft/protect-kill.test.ts', 'test/ft/hosts.test.ts', 'test/ft/redundancy.test.ts', 'test/ft/host-leave.test.ts',
  'test/ft/failover.test.ts', 'test/ft/ft-truth.test.ts', 'test/ft/protect-auth.test.ts', 'test/ft/demo.test.ts',
  'test/ft/protect-stall.test.ts', 'test/ft/control-conformance.test.ts', 'test/ft/protect-input.test.ts',
  'test/ft/netcut.test.ts', 'test/cli/ft.test.ts', 'test/ft/heartbeat-thread.test.ts', 'test/ft/divergence.test.ts', 'test/ft/arbiter.test.ts',
];

/** vitest's order (with a cache of past runs: failed first, then longest first), the files of LONGEST_FIRST ahead. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i, r: rank(f) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.f);
  }
}

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    sequence: { sequencer: LongestFirst },
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: [...FT, ...OWN_SCRIPT], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'ft', include: FT, sequence: { groupOrder: 1 } } },
    ],
  },
});
