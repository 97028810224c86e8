// Console input confirmations under the Output Rule: "consumed through n" is reported only once
// the instruction that consumed the bytes is released (on the ack), at once when not protected.
import { describe, it, expect } from 'vitest';
import { InputConfirmations } from '../../src/ft/primary.js';
import { GateKind, type GateRecord } from '../../src/machine/gate.js';
import type { RoleEvent } from '../../src/ft/role.js';

const con = (icount: number, n: number): GateRecord => ({ icount, kind: GateKind.ConsoleIn, chan: 0, payload: new Uint8Array(n) });

describe('InputConfirmations', () => {
  it('holds confirmations until the ack covers the consuming instruction', () => {
    const ev: RoleEvent[] = [];
    const seen: GateRecord[] = [];
    let held = true;
    const c = new InputConfirmations((e) => ev.push(e), 10);
    const tap = c.tap((r) => seen.push(r), () => held);
    tap(con(100, 3));
    tap({ icount: 120, kind: GateKind.Time, chan: 0, payload: 5 });
    tap(con(150, 2));
    expect(seen.length).toBe(3); // every record still reaches the log
    expect(ev).toEqual([]);
    c.release(99);
    expect(ev).toEqual([]);
    c.release(100);
    expect(ev).toEqual([{ kind: 'input-consumed', through: 13 }]);
    c.release(1000);
    expect(ev).toEqual([{ kind: 'input-consumed', through: 13 }, { kind: 'input-consumed', through: 15 }]);
    held = false; // not protected: confirmed at once
    tap(con(200, 1));
    expect(ev.at(-1)).toEqual({ kind: 'input-consumed', through: 16 });
  });
});
