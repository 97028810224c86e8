/* x86ft FP oracle: executes real SSE/x87 instructions on the host CPU.
 * stdin: one vector per line, 9 hex fields: op ctl a0 a1 a2 b0 b1 b2 imm
 *   SSE: float32 = a0; float64 = a0 (lo), a1 (hi); ctl = MXCSR.  x87: 80-bit = a0 (lo), a1 (hi), a2 (sign|exp); ctl = FPU CW.
 * stdout: 7 hex fields: r0 r1 r2 s0 s1 s2 flags  (s* = second result for two-result ops; flags = MXCSR
 *   exception bits, or the x87 status word, or for compares-to-EFLAGS: (eflags << 8) | exceptions).
 * Written for x86ft from the Intel SDM; built by test/fp/oracle.ts with gcc. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

typedef struct { uint64_t m; uint16_t se; } __attribute__((packed)) x80;

static inline void ldmx(uint32_t m) { asm volatile("ldmxcsr %0" ::"m"(m)); }
static inline uint32_t stmx(void) { uint32_t m; asm volatile("stmxcsr %0" : "=m"(m)); return m; }

#define CMPCASE(I) case I: asm volatile("vcmpss $" #I ", %2, %1, %0" : "=x"(r) : "x"(x), "x"(y)); break;
#define CMPCASED(I) case I: asm volatile("vcmpsd $" #I ", %2, %1, %0" : "=x"(r) : "x"(X), "x"(Y)); break;
#define C8(M, b) M(b+0) M(b+1) M(b+2) M(b+3) M(b+4) M(b+5) M(b+6) M(b+7)

static float f32(uint32_t w) { float f; memcpy(&f, &w, 4); return f; }
static double f64(uint32_t lo, uint32_t hi) { uint64_t v = ((uint64_t)hi << 32) | lo; double d; memcpy(&d, &v, 8); return d; }
static uint32_t w32(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }
static uint64_t w64(double d) { uint64_t v; memcpy(&v, &d, 8); return v; }

/* x87 helpers: run BODY with ST0=a, ST1=b loaded (as 80-bit, no exceptions), store ST0 to r, status to sw. */
#define X87(BODY) asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t" BODY \
    "\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfninit" : [r] "=m"(r), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(cw) : "memory", "cc")
#define X87_2(BODY) asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t" BODY \
    "\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfstpt %[s]\n\tfninit" : [r] "=m"(r), [s] "=m"(s), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(cw) : "memory", "cc")

int main(void) {
  char line[256];
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);
  while (fgets(line, sizeof line, stdin)) {
    unsigned op, ctl, a0, a1, a2, b0, b1, b2, imm;
    if (sscanf(line, "%x %x %x %x %x %x %x %x %x", &op, &ctl, &a0, &a1, &a2, &b0, &b1, &b2, &imm) != 9) continue;
    uint32_t r0 = 0, r1 = 0, r2 = 0, s0 = 0, s1 = 0, s2 = 0, fl = 0;
    if (op < 100) {
      float x = f32(a0), y = f32(b0), r = 0; double X = f64(a0, a1), Y = f64(b0, b1), R = 0;
      uint64_t q = 0; uint32_t i32 = 0; uint8_t ah = 0;
      int64_t I64 = (int64_t)(((uint64_t)b1 << 32) | b0); int32_t I32 = (int32_t)b0;
      ldmx(ctl & ~0x3fu);
      switch (op) {
      case 0: asm volatile("addss %1, %0" : "+x"(x) : "x"(y)); r = x; break;
      case 1: asm volatile("subss %1, %0" : "+x"(x) : "x"(y)); r = x; break;
      case 2: asm volatile("mulss %1, %0" : "+x"(x) : "x"(y)); r = x; break;
      case 3: asm volatile("divss %1, %0" : "+x"(x) : "x"(y)); r = x; break;
      case 4: asm volatile("sqrtss %1, %0" : "=x"(r) : "x"(y)); break;
      case 5: asm volatile("minss %1, %0" : "+x"(x) : "x"(y)); r = x; break;
      case 6: asm volatile("maxss %1, %0" : "+x"(x) : "x"(y)); r = x; break;
      case 7: asm volatile("addsd %1, %0" : "+x"(X) : "x"(Y)); R = X; break;
      case 8: asm volatile("subsd %1, %0" : "+x"(X) : "x"(Y)); R = X; break;
      case 9: asm volatile("mulsd %1, %0" : "+x"(X) : "x"(Y)); R = X; break;
      case 10: asm volatile("divsd %1, %0" : "+x"(X) : "x"(Y)); R = X; break;
      case 11: asm volatile("sqrtsd %1, %0" : "=x"(R) : "x"(Y)); break;
      case 12: asm volatile("minsd %1, %0" : "+x"(X) : "x"(Y)); R = X; break;
      case 13: asm volatile("maxsd %1, %0" : "+x"(X) : "x"(Y)); R = X; break;
      case 14: switch (imm) { C8(CMPCASE, 0) C8(CMPCASE, 8) C8(CMPCASE, 16) C8(CMPCASE, 24) } break;
      case 15: { double r = 0; switch (imm) { C8(CMPCASED, 0) C8(CMPCASED, 8) C8(CMPCASED, 16) C8(CMPCASED, 24) } R = r; } break;
      case 16: asm volatile("comiss %2, %1\n\tlahf" : "=a"(q) : "x"(x), "x"(y) : "cc"); ah = q >> 8; break;
      case 17: asm volatile("ucomiss %2, %1\n\tlahf" : "=a"(q) : "x"(x), "x"(y) : "cc"); ah = q >> 8; break;
      case 18: asm volatile("comisd %2, %1\n\tlahf" : "=a"(q) : "x"(X), "x"(Y) : "cc"); ah = q >> 8; break;
      case 19: asm volatile("ucomisd %2, %1\n\tlahf" : "=a"(q) : "x"(X), "x"(Y) : "cc"); ah = q >> 8; break;
      case 20: asm volatile("cvtss2sd %1, %0" : "=x"(R) : "x"(y)); break;
      case 21: asm volatile("cvtsd2ss %1, %0" : "=x"(r) : "x"(Y)); break;
      case 22: asm volatile("cvtss2si %1, %0" : "=r"(i32) : "x"(y)); break;
      case 23: asm volatile("cvtss2si %1, %0" : "=r"(q) : "x"(y)); break;
      case 24: asm volatile("cvttss2si %1, %0" : "=r"(i32) : "x"(y)); break;
      case 25: asm volatile("cvttss2si %1, %0" : "=r"(q) : "x"(y)); break;
      case 26: asm volatile("cvtsd2si %1, %0" : "=r"(i32) : "x"(Y)); break;
      case 27: asm volatile("cvtsd2si %1, %0" : "=r"(q) : "x"(Y)); break;
      case 28: asm volatile("cvttsd2si %1, %0" : "=r"(i32) : "x"(Y)); break;
      case 29: asm volatile("cvttsd2si %1, %0" : "=r"(q) : "x"(Y)); break;
      case 30: asm volatile("cvtsi2ssl %1, %0" : "=x"(r) : "r"(I32)); break;
      case 31: asm volatile("cvtsi2ssq %1, %0" : "=x"(r) : "r"(I64)); break;
      case 32: asm volatile("cvtsi2sdl %1, %0" : "=x"(R) : "r"(I32)); break;
      case 33: asm volatile("cvtsi2sdq %1, %0" : "=x"(R) : "r"(I64)); break;
      }
      fl = stmx() & 0x3f;
      ldmx(0x1f80);
      switch (op) {
      case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 14: case 21: case 30: case 31: r0 = w32(r); break;
      case 16: case 17: case 18: case 19: fl |= (ah & 0x45) << 8; break;
      case 22: case 24: case 26: case 28: r0 = i32; break;
      case 23: case 25: case 27: case 29: r0 = (uint32_t)q; r1 = q >> 32; break;
      default: { uint64_t v = w64(R); r0 = (uint32_t)v; r1 = v >> 32; }
      }
    } else {
      x80 a = { ((uint64_t)a1 << 32) | a0, (uint16_t)a2 }, b = { ((uint64_t)b1 << 32) | b0, (uint16_t)b2 }, r = { 0, 0 }, s = { 0, 0 };
      uint16_t cw = (uint16_t)ctl, sw = 0; uint64_t q = 0; uint32_t m32 = b0; uint64_t m64 = ((uint64_t)b1 << 32) | b0;
      uint16_t m16 = (uint16_t)b0; int two = 0;
      switch (op) {
      case 100: X87("fadd %%st(1), %%st"); break;
      case 101: X87("fsub %%st(1), %%st"); break;
      case 102: X87("fmul %%st(1), %%st"); break;
      case 103: X87("fdiv %%st(1), %%st"); break;
      case 104: X87("fsqrt"); break;
      case 105: X87("fcom %%st(1)"); break;
      case 106: X87("fucom %%st(1)"); break;
      case 107: case 108: {
        uint8_t f8 = 0;
        if (op == 107) asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\tfcomi %%st(1), %%st\n\tlahf\n\tmovb %%ah, %[f]\n\tfnstsw %[sw]\n\tfninit" : [f] "=m"(f8), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(cw) : "memory", "cc", "rax");
        else asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\tfucomi %%st(1), %%st\n\tlahf\n\tmovb %%ah, %[f]\n\tfnstsw %[sw]\n\tfninit" : [f] "=m"(f8), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(cw) : "memory", "cc", "rax");
        fl = (uint32_t)(f8 & 0x45) << 16; break;
      }
      case 109: X87("frndint"); break;
      case 110: X87("fscale"); break;
      case 111: X87_2("fxtract"); two = 1; break;
      case 112: X87("fprem"); break;
      case 113: X87("fprem1"); break;
      case 130: X87("fsin"); break;
      case 131: X87("fcos"); break;
      case 132: X87_2("fptan"); two = 1; break;
      case 133: X87("fpatan"); break;   /* ST1 <- atan(ST1/ST0), pop */
      case 134: X87("f2xm1"); break;
      case 135: X87("fyl2x"); break;
      case 136: X87("fyl2xp1"); break;
      case 137: X87_2("fsincos"); two = 1; break;
      case 114: asm volatile("fninit\n\tfldcw %[cw]\n\tflds %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfninit" : [r] "=m"(r), [sw] "=m"(sw) : [m] "m"(m32), [cw] "m"(cw) : "memory"); break;
      case 115: asm volatile("fninit\n\tfldcw %[cw]\n\tfldl %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfninit" : [r] "=m"(r), [sw] "=m"(sw) : [m] "m"(m64), [cw] "m"(cw) : "memory"); break;
      case 116: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfstps %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m32), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m32; break;
      case 117: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfstpl %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m64), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m64; break;
      case 118: asm volatile("fninit\n\tfldcw %[cw]\n\tfilds %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfninit" : [r] "=m"(r), [sw] "=m"(sw) : [m] "m"(m16), [cw] "m"(cw) : "memory"); break;
      case 119: asm volatile("fninit\n\tfldcw %[cw]\n\tfildl %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfninit" : [r] "=m"(r), [sw] "=m"(sw) : [m] "m"(m32), [cw] "m"(cw) : "memory"); break;
      case 120: asm volatile("fninit\n\tfldcw %[cw]\n\tfildll %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfninit" : [r] "=m"(r), [sw] "=m"(sw) : [m] "m"(m64), [cw] "m"(cw) : "memory"); break;
      case 121: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfistps %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m16), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m16; break;
      case 122: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfistpl %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m32), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m32; break;
      case 123: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfistpll %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m64), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m64; break;
      case 124: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfisttps %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m16), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m16; break;
      case 125: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfisttpl %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m32), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m32; break;
      case 126: asm volatile("fninit\n\tfldcw %[cw]\n\tfldt %[a]\n\tfisttpll %[m]\n\tfnstsw %[sw]\n\tfninit" : [m] "=m"(m64), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(cw) : "memory"); r.m = m64; break;
      }
      (void)q; (void)two;
      r0 = (uint32_t)r.m; r1 = r.m >> 32; r2 = r.se; s0 = (uint32_t)s.m; s1 = s.m >> 32; s2 = s.se;
      fl |= sw;
    }
    printf("%x %x %x %x %x %x %x\n", r0, r1, r2, s0, s1, s2, fl);
  }
  return 0;
}
