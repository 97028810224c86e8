// Guests for the record/replay tests (sources shared with bench/replay.ts).
import { assembleGuest } from '../helpers/asm.js';
export { timerGuestSource, integerGuestSource } from '../../bench/replay-guests.js';

const cache = new Map<string, string>();
/** Path of the assembled ELF (cached per source). */
export function guestFile(name: string, source: string): string {
  const k = name + '\0' + source;
  let p = cache.get(k);
  if (!p) { p = assembleGuest(source, name); cache.set(k, p); }
  return p;
}
