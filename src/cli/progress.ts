// A progress line on stderr for long runs (run, record, replay, log inspect --follow), shown only when
// stderr is a terminal: redrawn in place every half second, cleared before other output reaches the
// same terminal, erased at the end. Pipes and files (tests, scripts) never see it.

/** What a command has done so far; absent fields are not shown. */
export interface ProgressSample {
  /** Instructions retired (the machine's icount). */
  instructions?: number;
  /** Log bytes written (record) or read (replay, log inspect). */
  logBytes?: number;
  /** Log entries read (log inspect). */
  entries?: number;
  /** Instruction count of the last log entry read (log inspect). */
  lastIcount?: number;
}

/** How often the line is redrawn, in ms of host time. */
export const PROGRESS_INTERVAL_MS = 500;

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const bytes = (b: number): string => b < 1e3 ? `${b} B` : b < 1e6 ? `${(b / 1e3).toFixed(1)} kB` : b < 1e9 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e9).toFixed(2)} GB`;

/** The text of one progress line (`MIPS` over the last interval of `secs` seconds). */
export function progressText(label: string, s: ProgressSample, prev: ProgressSample | undefined, secs: number): string {
  const parts: string[] = [];
  if (s.instructions !== undefined) {
    parts.push(`${n(s.instructions)} instructions`);
    if (prev?.instructions !== undefined && secs > 0) parts.push(`${((s.instructions - prev.instructions) / secs / 1e6).toFixed(1)} MIPS`);
  }
  if (s.entries !== undefined) parts.push(`${n(s.entries)} entries`);
  if (s.lastIcount !== undefined) parts.push(`at icount ${n(s.lastIcount)}`);
  if (s.logBytes !== undefined) parts.push(`log ${bytes(s.logBytes)}`);
  return `x86ft ${label}: ${parts.join(', ')}`;
}

/**
 * The progress line of one command. Inert (every method a no-op) unless `stream` (default stderr) is a
 * terminal. Call `output(bytes)` just before other bytes go to the same terminal (it clears the line; the
 * next redraw waits until that output ends a line), and `stop()` at the end (erases it).
 */
export class Progress {
  readonly enabled: boolean;
  private timer: ReturnType<typeof setInterval> | undefined;
  private shown = false;
  private atLineStart = true;
  private prev: ProgressSample | undefined;
  private prevAt = 0;

  /** `wanted` false: inert whatever the stream (e.g. a replay under gdb). */
  constructor(private readonly label: string, private readonly sample: () => ProgressSample, wanted = true,
    private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = wanted && stream.isTTY === true;
    if (!this.enabled) return;
    this.prevAt = performance.now(); // the first sample is taken at the first redraw (no MIPS yet)
    this.timer = setInterval(() => this.draw(), PROGRESS_INTERVAL_MS);
    this.timer.unref();
  }

  private draw(): void {
    if (!this.atLineStart) return;
    const s = this.sample(), now = performance.now();
    const cols = this.stream.columns || 80;
    const text = progressText(this.label, s, this.prev, (now - this.prevAt) / 1000).slice(0, cols - 1);
    this.prev = s; this.prevAt = now;
    this.stream.write(`\r\x1b[K${text}`);
    this.shown = true;
  }

  /** Other output is about to reach the terminal: clear the line; redraw only once that output ended a line. */
  output(b: Uint8Array | string): void {
    if (!this.enabled || b.length === 0) return;
    this.clear();
    const last = typeof b === 'string' ? b.charCodeAt(b.length - 1) : b[b.length - 1];
    this.atLineStart = last === 10;
  }

  private clear(): void {
    if (this.shown) { this.stream.write('\r\x1b[K'); this.shown = false; }
  }

  /** Stops redrawing and erases the line. */
  stop(): void {
    if (this.timer) { clearInterval(this.timer); this.timer = undefined; }
    this.clear();
  }
}
