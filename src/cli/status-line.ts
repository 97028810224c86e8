// `--status-line` (run, record): a final machine-readable line on stderr that says whether the exit status
// is the guest's own (its debug-exit status, any of 0-255) or one x86ft chose (2, 124-127, 130, …).

import { internalMessage } from './usage.js';

/** A status the guest chose (written to the debug-exit port), as opposed to a plain number x86ft chose. */
export interface GuestStatus { guest: number }
export type CommandStatus = number | GuestStatus;

/** The reason word of each status x86ft itself exits with (README "Exit statuses"). */
export const STATUS_REASONS: Readonly<Record<number, string>> = {
  0: 'ok', 1: 'io', 2: 'usage', 70: 'bug', 124: 'budget', 125: 'halt', 126: 'fault', 127: 'internal', 130: 'stopped',
};

export const STATUS_LINE_OPTION = '--status-line';

/** The line: `x86ft-status: by=guest status=N` or `x86ft-status: by=x86ft status=N reason=WORD`. */
export function statusLine(s: CommandStatus): string {
  return typeof s === 'number'
    ? `x86ft-status: by=x86ft status=${s} reason=${STATUS_REASONS[s] ?? 'other'}\n`
    : `x86ft-status: by=guest status=${s.guest}\n`;
}

/**
 * Runs a command's body; with `--status-line` among its arguments, prints the status line last on stderr
 * (an internal error, status 70, is reported here so that the line stays last). Returns the exit status.
 */
export async function withStatusLine(cmd: string, argv: string[], body: () => Promise<CommandStatus>): Promise<number> {
  if (!argv.includes(STATUS_LINE_OPTION)) {
    const s = await body();
    return typeof s === 'number' ? s : s.guest;
  }
  let s: CommandStatus;
  try { s = await body(); } catch (e) {
    process.stderr.write(`x86ft ${cmd}: internal error: ${internalMessage(e)}\n`);
    s = 70;
  }
  process.stderr.write(statusLine(s));
  return typeof s === 'number' ? s : s.guest;
}
