/* x86ft difference test: native runner. Executes generated x86-64 code sequences on the host CPU.
 * Built by test/difftest/native.ts with gcc (PIE, so the fixed low addresses below are free).
 * Written for x86ft; layout constants must match test/difftest/layout.ts.
 *
 * Memory (all MAP_FIXED_NOREPLACE):
 *   CODE 0x400000 (4 KiB, RWX)  case bytes, followed by `jmp *CTRL+EXIT_ADDR` back into dt_exit
 *   DATA 0x600000 (64 KiB, RW)  scratch buffer; the guest stack lives in its upper part
 *   PROT 0x610000 (4 KiB, read-only, bytes (k * 37 + 11) & 0xff) and 0x611000 (4 KiB, no access): memory
 *                               operands that fault (a store to the first, any access to the second)
 *   CTRL 0x700000 (8 KiB, RW)   register blocks in/out, host RSP, a small stack for dt_exit
 *
 * stdin (little-endian): "XDT2", u32 count; per case: u32 fill seed, u32 fill mode (0 integer, 1 FP specials
 *   overlaid, see fp_fill), u32 code length, u64 regs[16] (RAX..R15), u64 rflags, 512-byte FXSAVE64 image
 *   (initial x87/MXCSR/XMM state, loaded with FXRSTOR64), code bytes.
 * stdout per case: u32 status (0 = ran to the end, 1 = signal), u32 signo, u32 trapno (vector),
 *   u32 error code, u64 rip, u64 regs[16], u64 rflags, 512-byte FXSAVE64 image (at the end, or from the
 *   signal frame), u32 ndiff, ndiff * u32 ((offset << 8) | byte): the scratch bytes that differ from their
 *   initial value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE 0x400000UL
#define RO_PAGE 0x610000UL
#define CODE_SIZE 0x1000UL
#define DATA 0x600000UL
#define DATA_SIZE 0x10000UL
#define CTRL 0x700000UL
#define CTRL_SIZE 0x2000UL

/* CTRL layout */
#define IN_REGS 0x000  /* 16 * 8 */
#define IN_FLAGS 0x080
#define JMP_ADDR 0x088
#define EXIT_ADDR 0x090
#define HOST_RSP 0x098
#define OUT_REGS 0x100
#define OUT_FLAGS 0x180
#define FX_IN 0x200    /* 512: guest FP state loaded by dt_enter */
#define FX_OUT 0x400   /* 512: guest FP state saved by dt_exit */
#define FX_HOST 0x600  /* 512: the runner's own FP state, saved by dt_enter and restored by dt_exit */
#define EXIT_STACK 0x1000

#define S(x) #x
#define XS(x) S(x)

/* dt_enter: save callee-saved registers and the host stack, load every guest register from CTRL, jump to CODE.
 * dt_exit: store every guest register and RFLAGS into CTRL without touching guest memory, return to C. */
__asm__(
    ".text\n"
    ".globl dt_enter\n"
    "dt_enter:\n"
    "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, 0x700098\n"
    "  fxsave64 0x700600\n"
    "  fxrstor64 0x700200\n"
    "  mov $0x700080, %rsp\n"
    "  popfq\n"
    "  mov 0x700000, %rax\n mov 0x700008, %rcx\n mov 0x700010, %rdx\n mov 0x700018, %rbx\n"
    "  mov 0x700028, %rbp\n mov 0x700030, %rsi\n mov 0x700038, %rdi\n"
    "  mov 0x700040, %r8\n mov 0x700048, %r9\n mov 0x700050, %r10\n mov 0x700058, %r11\n"
    "  mov 0x700060, %r12\n mov 0x700068, %r13\n mov 0x700070, %r14\n mov 0x700078, %r15\n"
    "  mov 0x700020, %rsp\n"
    "  jmp *0x700088\n"
    ".globl dt_exit\n"
    "dt_exit:\n"
    "  mov %rsp, 0x700120\n"
    "  fxsave64 0x700400\n"
    "  fxrstor64 0x700600\n"
    "  mov $0x701000, %rsp\n"
    "  pushfq\n"
    "  popq 0x700180\n"
    "  mov %rax, 0x700100\n mov %rcx, 0x700108\n mov %rdx, 0x700110\n mov %rbx, 0x700118\n"
    "  mov %rbp, 0x700128\n mov %rsi, 0x700130\n mov %rdi, 0x700138\n"
    "  mov %r8, 0x700140\n mov %r9, 0x700148\n mov %r10, 0x700150\n mov %r11, 0x700158\n"
    "  mov %r12, 0x700160\n mov %r13, 0x700168\n mov %r14, 0x700170\n mov %r15, 0x700178\n"
    "  cld\n"
    "  mov 0x700098, %rsp\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "  ret\n");

void dt_enter(void);
void dt_exit(void);

#define CTRLQ(off) (*(volatile uint64_t *)(CTRL + (off)))

static sigjmp_buf jb;
static volatile sig_atomic_t in_guest;
static uint64_t f_regs[16], f_flags, f_rip, f_trapno, f_err;

static void on_signal(int sig, siginfo_t *si, void *ucv) {
  (void)si;
  if (!in_guest) {
    static const char msg[] = "difftest runner: signal outside guest code\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(3);
  }
  ucontext_t *uc = (ucontext_t *)ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  static const int map[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                              REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; i++) f_regs[i] = (uint64_t)g[map[i]];
  f_flags = (uint64_t)g[REG_EFL];
  f_rip = (uint64_t)g[REG_RIP];
  f_trapno = (uint64_t)g[REG_TRAPNO];
  f_err = (uint64_t)g[REG_ERR];
  /* the guest's FP state at the fault (the first 512 bytes of the signal frame's xsave area are FXSAVE64) */
  if (uc->uc_mcontext.fpregs) memcpy((void *)(CTRL + FX_OUT), uc->uc_mcontext.fpregs, 512);
  else memset((void *)(CTRL + FX_OUT), 0xff, 512);
  in_guest = 0;
  siglongjmp(jb, sig);
}

/* Initial scratch contents: xorshift32 words from the case's fill seed (mirrored in layout.ts fillScratch). */
static void fill(uint8_t *p, uint32_t seed) {
  uint32_t s = seed ^ 0x9e3779b9u;
  if (s == 0) s = 1;
  for (size_t i = 0; i < DATA_SIZE; i += 4) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    uint32_t w = s;
    if ((s & 15) == 0) w = 0;
    else if ((s & 15) == 1) w = 0xffffffffu;
    memcpy(p + i, &w, 4);
  }
}

/* FP cases: overlay float specials and ordinary values on the integer fill, per 16-byte block (mirrored in
 * layout.ts fpFill). Tables: float32, float64 (lo, hi), float80 (lo, hi, sign|exponent). */
static const uint32_t F32T[16] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xff812345,
                                  0x7fa00001, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0x3f800000, 0xcf000000, 0x4f000000};
static const uint32_t F64T[16][2] = {{0, 0}, {0, 0x80000000}, {0, 0x7ff00000}, {0, 0xfff00000}, {0, 0x7ff80000}, {0x1234, 0xfff80000},
                                     {5, 0x7ff40000}, {1, 0}, {0xffffffff, 0x800fffff}, {0, 0x00100000}, {0xffffffff, 0x7fefffff},
                                     {0, 0x3ff00000}, {0, 0xc1e00000}, {0, 0x43e00000}, {0xffc00000, 0x41dfffff}, {0, 0x3fe00000}};
static const uint32_t F80T[16][3] = {{0, 0, 0}, {0, 0, 0x8000}, {0, 0x80000000, 0x7fff}, {0, 0x80000000, 0xffff},
                                     {0, 0xc0000000, 0xffff}, {0x5678, 0xc0001234, 0x7fff}, {1, 0x80000000, 0x7fff}, {0, 0xa0000000, 0xffff},
                                     {1, 0x00001234, 0x0000}, {0, 0x80000000, 0x0001}, {0xffffffff, 0xffffffff, 0x7ffe}, {0, 0x80000000, 0x3fff},
                                     {0, 0xa0000000, 0xc000}, {0, 0x80000000, 0x403e}, {0x2168c235, 0xc90fdaa2, 0x4000}, {0, 0xc0000000, 0x3ffe}};
static void fp_fill(uint8_t *p, uint32_t seed) {
  uint32_t s = seed ^ 0x85ebca6bu;
  if (s == 0) s = 1;
#define NEXT (s ^= s << 13, s ^= s >> 17, s ^= s << 5, s)
  for (size_t b = 0; b < DATA_SIZE; b += 16) {
    uint32_t k = NEXT;
    uint32_t w[4];
    memcpy(w, p + b, 16);
    switch (k & 7) {
    case 0: for (int l = 0; l < 4; l++) w[l] = F32T[(k >> (4 + 4 * l)) & 15]; break;
    case 1: for (int l = 0; l < 2; l++) { w[2 * l] = F64T[(k >> (4 + 4 * l)) & 15][0]; w[2 * l + 1] = F64T[(k >> (4 + 4 * l)) & 15][1]; } break;
    case 2: { const uint32_t *t = F80T[(k >> 4) & 15]; w[0] = t[0]; w[1] = t[1]; w[2] = (w[2] & 0xffff0000u) | t[2]; break; }
    case 3: for (int l = 0; l < 4; l++) { uint32_t r = NEXT; w[l] = (r & 0x807fffffu) | ((120 + (r >> 23 & 15)) << 23); } break;
    case 4: for (int l = 0; l < 2; l++) { uint32_t r = NEXT; w[2 * l] = NEXT; w[2 * l + 1] = (r & 0x800fffffu) | ((1016 + (r >> 20 & 15)) << 20); } break;
    case 5: { uint32_t r = NEXT; w[0] = NEXT; w[1] = r | 0x80000000u; w[2] = (w[2] & 0xffff0000u) | ((r & 0x8000) | (0x3ff0 + (r & 31))); break; }
    default: break;
    }
#undef NEXT
    memcpy(p + b, w, 16);
  }
}

static void *map_fixed(unsigned long addr, unsigned long size, int prot) {
  void *p = mmap((void *)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED || p != (void *)addr) {
    fprintf(stderr, "difftest runner: cannot map 0x%lx: %s\n", addr, strerror(errno));
    exit(2);
  }
  return p;
}

static int rd(void *p, size_t n) { return fread(p, 1, n, stdin) == n; }

int main(void) {
  map_fixed(CODE, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
  map_fixed(DATA, DATA_SIZE, PROT_READ | PROT_WRITE);
  map_fixed(CTRL, CTRL_SIZE, PROT_READ | PROT_WRITE);
  uint8_t *ro = map_fixed(RO_PAGE, 4096, PROT_READ | PROT_WRITE);
  for (int k = 0; k < 4096; k++) ro[k] = (uint8_t)(k * 37 + 11);
  mprotect(ro, 4096, PROT_READ);
  map_fixed(RO_PAGE + 4096, 4096, PROT_NONE);

  static uint8_t altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);

  char magic[4];
  uint32_t count;
  if (!rd(magic, 4) || memcmp(magic, "XDT2", 4) != 0 || !rd(&count, 4)) {
    fprintf(stderr, "difftest runner: bad input header\n");
    return 2;
  }
  static uint8_t init[DATA_SIZE];
  static uint8_t code[CODE_SIZE];
  static uint32_t diffs[DATA_SIZE];
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);

  for (uint32_t c = 0; c < count; c++) {
    uint32_t seed, mode, len;
    uint64_t regs[16], flags;
    if (!rd(&seed, 4) || !rd(&mode, 4) || !rd(&len, 4) || !rd(regs, sizeof regs) || !rd(&flags, 8) ||
        !rd((void *)(CTRL + FX_IN), 512) || len > CODE_SIZE - 16 || !rd(code, len)) {
      fprintf(stderr, "difftest runner: truncated input at case %u\n", c);
      return 2;
    }
    fill(init, seed);
    if (mode == 1) fp_fill(init, seed);
    memcpy((void *)DATA, init, DATA_SIZE);
    /* write only the bytes that change (stores into recently executed code are slow: SMC detection) */
    memcpy((void *)CODE, code, len);
    *(volatile uint8_t *)(CODE + len + 7) = 0xcc;
    /* jmp *CTRL+EXIT_ADDR  (ff 24 25 disp32) */
    static const uint8_t tail[7] = {0xff, 0x24, 0x25, EXIT_ADDR & 0xff, (CTRL >> 8) & 0xff, (CTRL >> 16) & 0xff, 0};
    memcpy((void *)(CODE + len), tail, sizeof tail);
    for (int i = 0; i < 16; i++) CTRLQ(IN_REGS + 8 * i) = regs[i];
    CTRLQ(IN_FLAGS) = flags;
    CTRLQ(JMP_ADDR) = CODE;
    CTRLQ(EXIT_ADDR) = (uint64_t)(uintptr_t)dt_exit;

    uint32_t hdr[4] = {0, 0, 0, 0};
    uint64_t out[18];
    int sig = sigsetjmp(jb, 1);
    if (sig == 0) {
      in_guest = 1;
      dt_enter();
      in_guest = 0;
      for (int i = 0; i < 16; i++) out[1 + i] = CTRLQ(OUT_REGS + 8 * i);
      out[17] = CTRLQ(OUT_FLAGS);
      out[0] = CODE + len;
    } else {
      __asm__ volatile("cld");
      hdr[0] = 1; hdr[1] = (uint32_t)sig; hdr[2] = (uint32_t)f_trapno; hdr[3] = (uint32_t)f_err;
      for (int i = 0; i < 16; i++) out[1 + i] = f_regs[i];
      out[17] = f_flags;
      out[0] = f_rip;
    }
    uint32_t nd = 0;
    const uint8_t *d = (const uint8_t *)DATA;
    for (uint32_t blk = 0; blk < DATA_SIZE; blk += 64) {
      if (memcmp(d + blk, init + blk, 64) == 0) continue;
      for (uint32_t i = blk; i < blk + 64; i++)
        if (d[i] != init[i]) diffs[nd++] = (i << 8) | d[i];
    }
    fwrite(hdr, 4, 4, stdout);
    fwrite(out, 8, 18, stdout);
    fwrite((void *)(CTRL + FX_OUT), 1, 512, stdout);
    fwrite(&nd, 4, 1, stdout);
    fwrite(diffs, 4, nd, stdout);
  }
  fflush(stdout);
  return 0;
}
