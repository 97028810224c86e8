// Drives test/ft/claim-racer.mjs: N real node processes racing for the same claims.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const RACER = new URL('./claim-racer.mjs', import.meta.url).pathname;

export interface ClaimLine {
  g: number;
  won: boolean;
  owner?: { hostId: string; pid: number; addr?: string };
}

interface Racer {
  proc: ChildProcess;
  hostId: string;
  lines: AsyncIterator<string>;
}

function startRacer(args: string[], hostId: string): Racer {
  const proc = spawn(process.execPath, [RACER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.on('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`racer ${hostId} exited ${code}: ${stderr}`);
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return { proc, hostId, lines };
}

async function next(r: Racer): Promise<Record<string, unknown>> {
  const n = await r.lines.next();
  if (n.done) throw new Error(`racer ${r.hostId} ended early`);
  return JSON.parse(n.value) as Record<string, unknown>;
}

/** `count` processes claim generations 1..rounds of `vm` in lock step: every process gets "go g" at once.
 *  Returns, per generation, each racer's result with its pid. */
export async function raceSync(
  spec: string,
  secretFile: string,
  vm: string,
  count: number,
  rounds: number,
): Promise<{ pid: number; hostId: string; line: ClaimLine }[][]> {
  const racers = Array.from({ length: count }, (_, i) => startRacer([spec, secretFile, vm, `racer-${i}`, 'sync', String(rounds)], `racer-${i}`));
  try {
    for (const r of racers) await next(r); // ready
    const out: { pid: number; hostId: string; line: ClaimLine }[][] = [];
    for (let g = 1; g <= rounds; g++) {
      for (const r of racers) r.proc.stdin!.write(`go ${g}\n`);
      const results = await Promise.all(racers.map(async (r) => ({ pid: r.proc.pid!, hostId: r.hostId, line: (await next(r)) as unknown as ClaimLine })));
      out.push(results);
    }
    return out;
  } finally {
    for (const r of racers) r.proc.stdin!.end();
    await Promise.all(racers.map((r) => (r.proc.exitCode !== null ? undefined : new Promise((res) => r.proc.once('exit', res)))));
  }
}

/** `count` processes claim generation()+1 as fast as they can until `maxGen`; returns every claim line with its pid. */
export async function raceFree(
  spec: string,
  secretFile: string,
  vm: string,
  count: number,
  maxGen: number,
): Promise<{ pid: number; hostId: string; line: ClaimLine }[]> {
  const racers = Array.from({ length: count }, (_, i) => startRacer([spec, secretFile, vm, `free-${i}`, 'free', String(maxGen)], `free-${i}`));
  const all = await Promise.all(
    racers.map(async (r) => {
      const got: { pid: number; hostId: string; line: ClaimLine }[] = [];
      for (;;) {
        const n = await r.lines.next();
        if (n.done) break;
        got.push({ pid: r.proc.pid!, hostId: r.hostId, line: JSON.parse(n.value) as ClaimLine });
      }
      const code = r.proc.exitCode ?? (await new Promise<number | null>((res) => r.proc.once('exit', res)));
      if (code !== 0) throw new Error(`racer ${r.hostId} exited with ${code}`);
      return got;
    }),
  );
  return all.flat();
}

/** Checks one synchronized round: exactly one winner, every loser names it. Returns the winner. */
export function checkRound(results: { pid: number; hostId: string; line: ClaimLine }[]): { pid: number; hostId: string } {
  const winners = results.filter((r) => r.line.won);
  if (winners.length !== 1) throw new Error(`generation ${results[0]?.line.g}: ${winners.length} winners`);
  const w = winners[0]!;
  for (const r of results)
    if (!r.line.won && (r.line.owner?.pid !== w.pid || r.line.owner?.hostId !== w.hostId))
      throw new Error(`generation ${r.line.g}: loser ${r.hostId} learned ${JSON.stringify(r.line.owner)}, winner is ${w.hostId} pid ${w.pid}`);
  return w;
}
