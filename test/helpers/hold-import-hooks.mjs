// Module hooks of hold-import.mjs (they run in Node's hooks thread).
import { existsSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

let suffix, until;
export function initialize(data) { ({ suffix, until } = data); }

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (suffix && r.url.endsWith(suffix)) {
    writeSync(2, `hold-import: holding ${r.url}\n`);
    while (!existsSync(until)) await sleep(20);
  }
  return r;
}
