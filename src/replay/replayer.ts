// The replayer (secondary side of record/replay): replays one log read from any byte source (a
// finished file, a followed file, a TCP/TLS connection) on a ReplaySession (session.ts: the
// machine on a ReplayGate, outputs through its seam, every digest checked at its exact
// instruction count). A divergence stops the replay with a precise report; a cut or corrupted log
// is a LogError, never a divergence.

import type { Machine } from '../machine/machine.js';
import type { OutputTally } from './digest.js';
import { TruncatedLogError } from './codec.js';
import { ReplaySession, ReplaySetupError, type ReplayReport, type ReplayerOptions } from './session.js';
import { InternalError } from '../errors.js';

export { ReplaySession, ReplaySetupError, describeEntry } from './session.js';
export type { ReplayOutcome, Divergence, ReplayReport, ReplayerOptions, StepState, GoLive } from './session.js';

/** Yield to the event loop this often while replaying a source that delivers bytes faster than they replay. */
const YIELD_EVERY_MS = 20;

/**
 * Replays one log. `replay(source)` reads it (any async iterable of byte chunks) while running the
 * machine, and resolves with the report. It rejects with LogError for a cut or corrupted log,
 * HeaderMismatchError / ReplaySetupError for a log that is not for this image or snapshot, and
 * ChannelError if the transport fails.
 */
export class Replayer {
  private readonly s: ReplaySession;

  constructor(opts: ReplayerOptions = {}) { this.s = new ReplaySession(opts); }

  get machine(): Machine | undefined { return this.s.machine; }
  get outputs(): OutputTally { return this.s.outputs; }
  /** The session underneath (step API). */
  get session(): ReplaySession { return this.s; }

  async replay(source: AsyncIterable<Uint8Array>): Promise<ReplayReport> {
    const s = this.s;
    let report: ReplayReport | undefined;
    let last = Date.now();
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const c = await it.next();
        if (c.done) {
          // a log that just stops is unfinished, not bad: replayed up to its last whole frame
          try { s.end(); } catch (e) { if (e instanceof TruncatedLogError) s.unfinished(e); else throw e; }
          if (report) report = s.result ?? report;
          break;
        }
        s.feed(c.value);
        if (!report) {
          const st = s.run();
          if (st.done) {
            report = st.report;
            // a replay that reached the end still needs the rest of the log to be sound (the end
            // frame follows the end record); after a divergence the rest does not matter
            if (report.outcome !== 'identical') break;
          }
        }
        if (s.logComplete) break;
        if (Date.now() - last >= YIELD_EVERY_MS) { await new Promise((r) => setImmediate(r)); last = Date.now(); }
      }
      if (!s.machine) throw new ReplaySetupError('the log has no header');
      if (!report) {
        const st = s.run();
        // with the whole log in, a session always finishes
        if (!st.done) throw new InternalError('replay: the session did not finish a complete log');
        report = st.report;
      }
    } finally {
      await it.return?.(undefined);
    }
    return report;
  }
}
