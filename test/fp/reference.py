#!/usr/bin/env python3
# Correctly rounded reference values of the x87 transcendental instructions, computed with mpmath (an
# arbitrary-precision library no one here wrote) for test/fp/x87.test.ts. Test-only.
#
# stdin, one vector a line (hex words): op cw a_se a_hi a_lo b_se b_hi b_lo, with ST(0) = a and ST(1) = b
# (the layout of test/fp/native/oracle.c). stdout, one line each: "se hi lo" of the exact result rounded to
# the 64-bit significand with the rounding control of cw (PC does not apply to these instructions, SDM Vol. 1
# 8.1.5.2), or "-" where no reference is given (a non-finite or zero operand, an operand outside the
# instruction's domain, an exactly zero result). FSINCOS gives "sin cos" (six words).
#
# FSIN/FCOS/FSINCOS/FPTAN reduce their argument with the 66-bit approximation of pi the x87 uses (SDM Vol. 1
# 8.3.10, "Transcendental Instruction Accuracy": the 1-ulp bound holds relative to that reduction): with
# P = 0xC90FDAA22168C234C * 2^-67 (pi/2), x = k*P + r with k the nearest integer (|r| <= P/2), the result is
# that of the quadrant k mod 4 applied to r. FYL2XP1 outside |x| < 1 - sqrt(2)/2 is undefined: "u".
import sys

try:
    import mpmath
except ImportError:
    sys.stderr.write('test/fp/reference.py needs the Python package mpmath (apt-get install python3-mpmath, or pip install mpmath)\n')
    sys.exit(3)

mp = mpmath.mp
mp.prec = 1200
HALF_PI66 = mpmath.mpf(0xC90FDAA22168C234C) * mpmath.mpf(2) ** -67


def value(se, hi, lo):
    """The operand as an exact mpf, or None when it is not a finite nonzero number (or an unsupported format)."""
    e = se & 0x7FFF
    sig = (hi << 32) | lo
    if e == 0x7FFF or sig == 0:
        return None
    if e != 0 and not (sig >> 63):
        return None  # unnormal: unsupported format (#IA)
    v = mpmath.mpf(sig) * mpmath.mpf(2) ** ((e if e else 1) - 16383 - 63)
    return -v if se & 0x8000 else v


def is_pow2(v):
    m, _ = abs(v).man_exp
    return m == 1


def round80(v, rc):
    """("se hi lo", exact) of v rounded to the double-extended format with rounding control rc."""
    neg = v < 0
    man, exp = v.man_exp  # exact (abs() would round to the context precision)
    man = abs(man)
    n = man.bit_length()
    q = max(exp + n - 1 - 63, -16445)
    if exp >= q:
        m, rem, half = man << (exp - q), 0, 1
    else:
        sh = q - exp
        m, rem, half = man >> sh, man & ((1 << sh) - 1), 1 << (sh - 1)
    up = False
    if rem:
        if rc == 0:
            up = rem > half or (rem == half and (m & 1))
        elif rc == 1:
            up = neg
        elif rc == 2:
            up = not neg
    if up:
        m += 1
        if m == 1 << 64:
            m >>= 1
            q += 1
    biased = q + 63 + 16383 if m >> 63 else 0
    se = (0x8000 if neg else 0) | biased
    return '%x %x %x' % (se, m >> 32, m & 0xFFFFFFFF), rem == 0


def trig(x):
    """(sin, cos, tan) as the x87 computes them: reduced by the 66-bit pi."""
    k = mpmath.floor(abs(x) / HALF_PI66 + mpmath.mpf(0.5))
    r = abs(x) - k * HALF_PI66
    if k == 0 and abs(r) < mpmath.mpf(2) ** -100:
        # tiny r: sin r = r(1 - d), tan r = r(1 + d'), cos r = 1 - d'' with 0 < d, d', d'' < 2^-199. Only the
        # sign of such a correction can decide a rounding to 64 bits; where it falls below the working
        # precision (a denormal r) a stand-in of the same sign, 2^-1100, takes its place.
        r2 = r * r
        lo = mpmath.mpf(2) ** -1100
        s, t, c = r * (1 - max(r2 / 6, lo)), r * (1 + max(r2 / 3, lo)), 1 - max(r2 / 2, lo)
        return (-s if x < 0 else s), c, (-t if x < 0 else t)
    s, c = mpmath.sin(r), mpmath.cos(r)
    q = int(k) % 4
    sn, cs = [(s, c), (c, -s), (-s, -c), (-c, s)][q]
    sn = -sn if x < 0 else sn
    return sn, cs, sn / cs


def result(op, a, b, a_words):
    if op == 136 and (a_words[0] & 0x7FFF) == 0x7FFF and ((a_words[1] << 32) | a_words[2]) == 1 << 63:
        return 'u'  # FYL2XP1 of an infinity: outside the domain
    if a is None:
        return None
    if op in (130, 131, 132, 137):
        if abs(a) >= mpmath.mpf(2) ** 63:
            return None  # C2 = 1, operand unchanged
        s, c, t = trig(a)
        return {130: [s], 131: [c], 132: [t], 137: [s, c]}[op]
    if op == 134:
        return [mpmath.expm1(a * mpmath.ln2)] if abs(a) <= 1 else None
    if b is None:
        return None
    if op == 133:
        return [mpmath.atan2(b, a)]
    if op == 135:
        if a <= 0:
            return None
        if is_pow2(a):
            return [b * (a.man_exp[1])]  # exact log2
        return [b * mpmath.log(a, 2)]
    if op == 136:
        if a is None or abs(a) >= 1 - mpmath.sqrt(2) / 2:
            return 'u'
        return [b * mpmath.log1p(a) / mpmath.ln2]
    return None


def main():
    out = []
    for line in sys.stdin:
        f = [int(t, 16) for t in line.split()]
        if not f:
            continue
        op, cw = f[0], f[1]
        rc = (cw >> 10) & 3
        rs = result(op, value(*f[2:5]), value(*f[5:8]), f[2:5])
        if rs == 'u':
            out.append('u')
            continue
        if rs is None or any(r == 0 for r in rs):
            out.append('-')
            continue
        words = [round80(r, rc) for r in rs]
        if any(exact for _, exact in words):
            # a result that looks exact in 64 bits may have lost its tail below the working precision (sin x
            # of a tiny x): redo it with enough bits for the next term of the smallest operand (rare)
            tiny = max(0, 16383 - min(f[2] & 0x7FFF, (f[5] & 0x7FFF) or 0x3FFF))
            with mpmath.workprec(1200 + 3 * tiny):
                rs = result(op, value(*f[2:5]), value(*f[5:8]), f[2:5])
                words = [round80(r, rc) for r in rs]
        out.append(' '.join(w for w, _ in words))
    sys.stdout.write('\n'.join(out) + '\n')


main()
