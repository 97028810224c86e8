/* jmp: setjmp/longjmp — from nested and deep recursion, repeated jumps to one buffer,
 * longjmp(env, 0) turning into 1, callee-saved registers and volatile locals surviving,
 * an error-handling "try" stack. */
#include "x86ft.h"

#pragma GCC diagnostic ignored "-Wclobbered"

static jmp_buf top, inner;
static int depth_reached;

static void dive(int depth, int limit) {
  volatile char pad[64];   /* make frames bigger so the stack really unwinds */
  pad[depth & 63] = (char)depth;
  depth_reached = depth + pad[depth & 63] - (char)depth;
  if (depth == limit) longjmp(top, depth);
  if (depth > 100000) return;
  dive(depth + 1, limit);
  pad[0]++;   /* not reached */
}

static jmp_buf *try_stack[8];
static int try_top;
static void throw_(int code) { longjmp(*try_stack[try_top - 1], code); }

static int parse_digit(char c) {
  if (c < '0' || c > '9') throw_(100 + c);
  return c - '0';
}

static int parse_number(const char *s) {
  int v = 0;
  for (; *s; s++) v = v * 10 + parse_digit(*s);
  return v;
}

static int try_parse(const char *s, int *out) {
  jmp_buf jb;
  try_stack[try_top++] = &jb;
  int code = setjmp(jb);
  if (code == 0) {
    *out = parse_number(s);
    try_top--;
    return 0;
  }
  try_top--;
  return code;
}

/* callee-saved registers must hold their values across a longjmp back into this frame */
static __attribute__((noinline)) void clobber(void) {
  __asm__ volatile("mov $0x1111, %%rbx; mov $0x2222, %%r12; mov $0x3333, %%r13; mov $0x4444, %%r14; mov $0x5555, %%r15"
                   ::: "rbx", "r12", "r13", "r14", "r15");
  longjmp(inner, 0);
}

static __attribute__((noinline)) uint64_t regs_survive(uint64_t seed) {
  register uint64_t a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13;
  __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
  int r = setjmp(inner);
  if (r == 0) clobber();
  __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
  return (uint64_t)r * 1000000 + (a ^ b ^ c ^ d ^ e);
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  for (int limit = 0; limit < 300; limit += 37) {
    int r = setjmp(top);
    if (r == 0) dive(0, limit);
    else printf("longjmp from depth %d returned %d (reached %d)\n", limit, r, depth_reached);
  }
  int r = setjmp(top);
  if (r == 0) longjmp(top, 0);
  printf("longjmp(env, 0) makes setjmp return %d\n", r);

  volatile int count = 0;
  int rr = setjmp(top);
  count++;
  if (count < 5) longjmp(top, count * 10);
  printf("looped via longjmp: count %d last %d\n", count, rr);

  static const char *inputs[] = { "123", "98x7", "", "4294", "a", "0007" };
  for (unsigned i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    int v = -1;
    int code = try_parse(inputs[i], &v);
    printf("parse [%s]: code %d value %d\n", inputs[i], code, v);
  }
  uint64_t s = 0;
  for (uint64_t k = 1; k < 6; k++) s = s * 31 + regs_survive(k * 0x10001);
  printf("callee-saved registers after longjmp: %llu (expected %llu)\n", (unsigned long long)s,
         (unsigned long long)({ uint64_t t = 0; for (uint64_t k = 1; k < 6; k++) { uint64_t q = k * 0x10001; t = t * 31 + 1000000 + ((q * 3) ^ (q * 5) ^ (q * 7) ^ (q * 11) ^ (q * 13)); } t; }));
  return count;
}
