// `x86ft console [NAME] --control SPEC`: attach to an FT VM's console (the primary's console service,
// src/ft/console-service.ts). Output resumes at the byte offset this client has and follows the VM
// across failovers; typed input reaches the guest exactly once.

import { ConsoleClient } from '../ft/console-service.js';
import { openControl, type ControlPlane } from '../ft/control.js';
import { consoleFilePath, copyConsoleFile } from '../ft/supervisor.js';
import { parseCount, parseArgs } from './args.js';
import { X86ftError } from '../errors.js';
import { usageLine } from './usage.js';
import { onStopSignal } from './signals.js';

export const CONSOLE_EXIT = { error: 1, usage: 2, notFound: 3, stopped: 130 } as const;

const HELP = `usage: x86ft console [NAME] --control SPEC [--from N] [--no-input]

Attaches to FT VM NAME's console (default 'default'): its console from byte N on (default 0, the
whole console) goes to stdout, stdin goes to the guest. Across a failover the console reconnects
to the new primary and resumes at the byte it has: no byte is lost or doubled either way. On a
terminal stdin is raw: Ctrl-A x detaches, Ctrl-A Ctrl-A sends Ctrl-A.

  --control SPEC          the control plane, dir:PATH or etcd:HOST:PORT,… (default dir:$X86FT_CONTROL, else
                          dir:~/.x86ft)
  --from N                console byte offset to start at (default 0)
  --no-input              only watch: do not send stdin

exit status: the guest's exit status when it ended while attached (0 when it gave none); 0 detached
(Ctrl-A x); ${CONSOLE_EXIT.error} refused (wrong cluster secret, other protocol version) or the control plane
failed; ${CONSOLE_EXIT.usage} bad arguments; ${CONSOLE_EXIT.notFound} no VM NAME; ${CONSOLE_EXIT.stopped} SIGINT/SIGTERM.
`;

export async function consoleCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(HELP); return 0; }
  let spec: string | undefined, name: string | undefined, from = 0, input = true;
  try {
    name = parseArgs(args, {
      flags: ['--no-input'], values: ['--control', '--from'], maxPositionals: 1,
      on: (a, v) => { if (a === '--no-input') input = false; else if (a === '--control') spec = v as string; else from = parseCount(v as string, a); },
    }).positionals[0];
  } catch (e) {
    process.stderr.write(usageLine('console', (e as Error).message, HELP));
    return CONSOLE_EXIT.usage;
  }
  const vm = name ?? 'default';
  let cp: ControlPlane;
  try { cp = await openControl(spec, { mustExist: true }); } catch (e) {
    process.stderr.write(`x86ft console: ${(e as Error).message}\n`);
    return (e as { code?: string }).code === 'BAD_SPEC' ? CONSOLE_EXIT.usage : CONSOLE_EXIT.error;
  }
  const stdin = process.stdin;
  const raw = input && stdin.isTTY === true;
  let unlisten: (() => void) | undefined;
  try {
    let rec;
    try { rec = await cp.readVm(vm); } catch (e) {
      process.stderr.write(`x86ft console: ${(e as Error).message}\n`);
      return (e as { code?: string }).code === 'BAD_NAME' ? CONSOLE_EXIT.usage : CONSOLE_EXIT.error;
    }
    if (!rec) { process.stderr.write(`x86ft console: no FT VM '${vm}' in ${cp.spec}\n`); return CONSOLE_EXIT.notFound; }
    let detached = false, stopped = false, endedWhileAway = false;
    const client = new ConsoleClient({
      secret: await cp.secret(), vm, from, input,
      locate: async () => {
        const r = await cp.readVm(vm);
        if (r?.state === 'ended') { endedWhileAway = true; return null; }
        const m = r?.consoleAddr ? /^(.*):(\d+)$/.exec(r.consoleAddr) : null;
        if (!m) throw new X86ftError('X86FT_NOT_FOUND', `VM '${vm}' has no console service now`);
        return { host: m[1]!, port: Number(m[2]) };
      },
      onOutput: (b) => { process.stdout.write(b); },
      onStatus: (t) => process.stderr.write(`x86ft ${t}\n`),
    });
    if (input) {
      if (raw) stdin.setRawMode(true);
      let escape = false;
      stdin.on('data', (b: Buffer) => {
        if (!raw) return client.type(b);
        const out: number[] = [];
        for (const c of b) {
          if (escape) {
            escape = false;
            if (c === 0x78 /* x */) { detached = true; client.close(); return; }
            out.push(c);
          } else if (c === 0x01) escape = true;
          else out.push(c);
        }
        if (out.length) client.type(Uint8Array.from(out));
      });
      // stdin at its end (e.g. `echo x | x86ft console`): once what was typed is consumed, the input is free for
      // another console; the output goes on
      stdin.on('end', () => client.endInput());
    }
    unlisten = onStopSignal(() => { stopped = true; client.close(); });
    // A VM that ended while this client was between primaries has no service to say goodbye.
    const watch = setInterval(() => { if (endedWhileAway) client.close(); }, 500);
    const end = await client.done;
    clearInterval(watch);
    if (stopped) return CONSOLE_EXIT.stopped;
    if (end.kind === 'error') { process.stderr.write(`x86ft console: ${end.error.message}\n`); return CONSOLE_EXIT.error; }
    if (end.kind === 'bye') { process.stderr.write(`x86ft console: ${end.reason}\n`); return end.status ?? 0; }
    if (detached) return 0;
    const r = await cp.readVm(vm).catch(() => undefined);
    if (r?.state === 'ended') copyConsoleFile(consoleFilePath(r), client.consoleLength, (b) => process.stdout.write(b));
    process.stderr.write(`x86ft console: VM '${vm}' ${r?.state === 'ended' ? 'ended' : 'has no console service'}\n`);
    return r?.state === 'ended' ? r.exitStatus ?? 0 : CONSOLE_EXIT.error;
  } finally {
    unlisten?.();
    if (raw) stdin.setRawMode(false);
    stdin.destroy();
    await cp.close().catch(() => undefined);
  }
}
