// SIGINT/SIGTERM for the commands that document a status for them (run, record, protect, console, host,
// ft primary|secondary, ft status --watch). main.ts catches the two signals first thing, before the
// command's modules load, so a signal in a command's first moments is not the default death (shell
// status 143/130) but the command's own status: a signal that comes before the command listens is kept
// and given to its first listener. Once the command has stopped listening, a signal has its default
// action again (e.g. a second Ctrl-C while a `once` listener's command winds down ends the process).

type StopSignal = 'SIGINT' | 'SIGTERM';
type Listener = (signal: StopSignal) => void;

const SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];
const listeners = new Set<Listener>();
let installed = false;
let fromStart = false; // installed by main.ts (not by a command run in-process, e.g. by a test)
let listened = false;
let pending: StopSignal | undefined;

function dispatch(signal: StopSignal): void {
  if (listeners.size > 0) { for (const l of [...listeners]) l(signal); return; }
  if (!listened) { pending ??= signal; return; }
  // the command no longer listens: the signal's default action, as if x86ft had never caught it
  uninstall();
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, dispatch);
}

function uninstall(): void {
  installed = fromStart = false;
  for (const s of SIGNALS) process.off(s, dispatch);
}

/** Catches SIGINT/SIGTERM from now on (main.ts, before a command that handles them is loaded). */
export function holdStopSignals(): void {
  install();
  fromStart = true;
}

/**
 * Calls `fn` on SIGINT/SIGTERM until the returned function is called (or after one call with `once`).
 * A signal that came while no listener was registered yet is given to `fn` at once, synchronously.
 * Without holdStopSignals (a command run in-process, e.g. by a test) the signals are caught only while
 * a listener is registered.
 */
export function onStopSignal(fn: Listener, opts: { once?: boolean } = {}): () => void {
  install();
  listened = true;
  const l: Listener = opts.once ? (s) => { listeners.delete(l); fn(s); } : fn;
  listeners.add(l);
  if (pending !== undefined) { const s = pending; pending = undefined; l(s); }
  return () => { listeners.delete(l); if (listeners.size === 0 && !fromStart) uninstall(); };
}
