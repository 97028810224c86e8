/* except: CPU exceptions through the guest's IDT — #DE (divide by zero, idiv overflow),
 * #UD (ud2, skipped by advancing RIP), #BP (int3, a trap: resumes after it), #PF (null
 * read, page-0 write, unmapped read, fetch from an unmapped address: CR2 and error code),
 * #GP (non-canonical address), a software INT 0x40, and a #PF handler that maps the
 * missing page and retries the instruction (demand paging).
 *
 * Recovery: the handler records what it saw and either returns (IRETQ; for #UD after
 * adding 2 to the saved RIP) or redirects the saved RIP to a trampoline that longjmps
 * back into the test. The native build does the same with signal handlers (SIGFPE,
 * SIGILL, SIGSEGV si_addr / REG_ERR, SIGTRAP), editing REG_RIP or siglongjmp-ing, and
 * prints the same lines. Error codes are printed without the U/S bit (bit 2): natively
 * the fault comes from user mode, in the guest from CPL 0. Checks that only make sense
 * on the machine (saved CS/SS/RFLAGS, U/S = 0) print "frame ok" in both builds and
 * details only when they fail. */
#define _GNU_SOURCE
#include "x86ft.h"

static volatile int got_vec;
static volatile uint64_t got_rip, got_err, got_addr;
static volatile int frame_bad;
static volatile int handled;

/* fault sites, labelled so both builds know the faulting RIP */
extern char de_site[], de2_site[], ud_site[], bp_after[], pf_read_site[], pf_write_site[], gp_site[], int_after[];

static __attribute__((noinline, noclone)) uint32_t do_div(uint32_t a, uint32_t b) {
  uint32_t q, r;
  __asm__ volatile(".globl de_site\nde_site: divl %[b]" : "=a"(q), "=d"(r) : "a"(a), "d"(0u), [b] "r"(b));
  return q + r;
}
static __attribute__((noinline, noclone)) int32_t do_idiv(int32_t a, int32_t b) {
  int32_t q, r;
  __asm__ volatile(".globl de2_site\nde2_site: cltd; idivl %[b]" : "=a"(q), "=&d"(r) : "a"(a), [b] "r"(b));
  return q + r;
}
static __attribute__((noinline, noclone)) int do_ud2(int x) {
  __asm__ volatile(".globl ud_site\nud_site: ud2" ::: "memory");
  return x + 1;
}
static __attribute__((noinline, noclone)) int do_int3(int x) {
  __asm__ volatile("int3\n.globl bp_after\nbp_after:" ::: "memory");
  return x + 2;
}
static __attribute__((noinline, noclone)) uint64_t do_read(const volatile uint64_t *p) {
  uint64_t v;
  __asm__ volatile(".globl pf_read_site\npf_read_site: movq (%1), %0" : "=r"(v) : "r"(p) : "memory");
  return v;
}
static __attribute__((noinline, noclone)) void do_write(volatile uint32_t *p, uint32_t v) {
  __asm__ volatile(".globl pf_write_site\npf_write_site: movl %1, (%0)" : : "r"(p), "r"(v) : "memory");
}
static __attribute__((noinline, noclone)) uint64_t do_gp(uint64_t addr) {
  uint64_t v;
  __asm__ volatile(".globl gp_site\ngp_site: movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
  return v;
}
static __attribute__((noinline, noclone)) int do_int40(int x) {
  __asm__ volatile("int $0x40\n.globl int_after\nint_after:" ::: "memory");
  return x + 3;
}

#define UNMAPPED 0x100000000000ull   /* 16 TiB: not mapped on the machine (first 4 GiB only) nor natively */

#ifdef X86FT_NATIVE
/* ---------------- native: signals ---------------- */
#include <signal.h>
#include <ucontext.h>
#include <sys/mman.h>
static sigjmp_buf recover;
static int demand_map;   /* when set, SIGSEGV at UNMAPPED maps the page and retries */
#define TRY() (sigsetjmp(recover, 1) == 0)

static void on_signal(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  got_rip = (uint64_t)g[REG_RIP];
  got_err = (uint64_t)g[REG_ERR] & ~4ull;
  got_addr = 0;
  handled++;
  switch (sig) {
    case SIGFPE: got_vec = 0; got_err = 0; break;
    case SIGILL: got_vec = 6; got_err = 0; g[REG_RIP] += 2; return;
    case SIGTRAP: got_vec = 3; got_err = 0; return;
    case SIGSEGV:
      if (si->si_code == SI_KERNEL) {   /* #GP: non-canonical address, or INT n through a DPL-0 gate */
        uint64_t e = (uint64_t)g[REG_ERR];
        if (e & 2) {   /* IDT-referencing error code: INT n; natively a fault, so step over the 2-byte INT */
          got_vec = (int)(e >> 3); got_err = 0; g[REG_RIP] += 2; got_rip += 2; return;
        }
        got_vec = 13;
      } else {
        got_vec = 14;
        got_addr = (uint64_t)si->si_addr;
        if (demand_map && got_addr - UNMAPPED < 4096) {
          void *p = mmap((void *)UNMAPPED, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
          if (p == MAP_FAILED) { printf("mmap failed\n"); exit(3); }
          return;   /* retry the instruction */
        }
      }
      break;
    default: break;
  }
  siglongjmp(recover, 1);
}

static void setup(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGTRAP, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
}
static void enable_demand_paging(void) { demand_map = 1; }
static void disable_demand_paging(void) { demand_map = 0; }

#else
/* ---------------- machine: IDT handlers ---------------- */
static jmp_buf recover;
static int demand_map;
#define TRY() (setjmp(recover) == 0)

static void trampoline(void) { longjmp(recover, 1); }

static void check_frame(struct x86ft_frame *f) {
  /* interrupt gate: IF cleared in the handler, saved RFLAGS bit 1 set, CS = 0x08 (CPL 0) */
  if (f->cs != 0x08 || (f->ss & ~3ull) != 0x10 || !(f->rflags & 2) || (read_rflags() & 0x200) ||
      (f->vector == X86FT_PF && (f->error_code & 4))) {
    frame_bad++;
    printf("bad frame: ");
    x86ft_dump_frame(f);
  }
}

/* page tables for the demand-paging test: PDPT, PD, PT and the data page */
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static unsigned char page[4096] __attribute__((aligned(4096)));

static void map_unmapped_page(void) {
  uint64_t *pml4 = (uint64_t *)(uintptr_t)(read_cr3() & ~0xfffull);
  unsigned i4 = (UNMAPPED >> 39) & 511, i3 = (UNMAPPED >> 30) & 511, i2 = (UNMAPPED >> 21) & 511, i1 = (UNMAPPED >> 12) & 511;
  pml4[i4] = (uint64_t)(uintptr_t)pdpt | 3;
  pdpt[i3] = (uint64_t)(uintptr_t)pd | 3;
  pd[i2] = (uint64_t)(uintptr_t)pt | 3;
  pt[i1] = (uint64_t)(uintptr_t)page | 3;
  __asm__ volatile("invlpg (%0)" : : "r"(UNMAPPED) : "memory");
}

static void handler(struct x86ft_frame *f) {
  check_frame(f);
  got_vec = (int)f->vector;
  got_rip = f->rip;
  got_err = f->error_code & ~4ull;
  got_addr = f->vector == X86FT_PF ? read_cr2() : 0;
  handled++;
  switch (f->vector) {
    case X86FT_UD: f->rip += 2; return;
    case X86FT_BP: return;
    case 0x40: got_err = 0; return;
    case X86FT_PF:
      if (demand_map && got_addr - UNMAPPED < 4096) { map_unmapped_page(); return; }
      break;
    default: break;
  }
  /* resume in the trampoline, on the interrupted stack, as if called */
  f->rsp = (f->rsp & ~15ull) - 8;
  f->rip = (uint64_t)(uintptr_t)trampoline;
}

static void setup(void) {
  static const int vecs[] = { X86FT_DE, X86FT_UD, X86FT_BP, X86FT_GP, X86FT_PF, 0x40 };
  for (unsigned i = 0; i < sizeof vecs / sizeof *vecs; i++) idt_set_handler(vecs[i], handler);
}
static void enable_demand_paging(void) { demand_map = 1; }
static void disable_demand_paging(void) { demand_map = 0; }
#endif

static const char *name(int v) {
  switch (v) {
    case 0: return "#DE"; case 3: return "#BP"; case 6: return "#UD"; case 13: return "#GP"; case 14: return "#PF";
    case 0x40: return "INT 0x40"; default: return "?";
  }
}

static void report(const char *what, const char *site) {
  printf("%-28s caught %-8s err %#llx addr %#llx rip %s\n", what, name(got_vec), (unsigned long long)got_err,
         (unsigned long long)got_addr, (uint64_t)(uintptr_t)site == got_rip ? "at site" : "ELSEWHERE");
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  setup();
  volatile uint32_t zero = 0;
  volatile int r;

  if (TRY()) { r = (int)do_div(100, zero); printf("no #DE?! %d\n", r); }
  else report("divide by zero", de_site);

  if (TRY()) { r = do_idiv(INT32_MIN, -1 + (int)zero); printf("no #DE?! %d\n", r); }
  else report("idiv INT_MIN/-1", de2_site + 1);   /* +1: skip the cltd */

  r = do_ud2(41);
  printf("ud2 skipped, result %d\n", r);
  report("ud2", ud_site);

  r = do_int3(40);
  printf("int3 resumed, result %d\n", r);
  report("int3", bp_after);

  if (TRY()) { r = (int)do_read((const volatile uint64_t *)(uintptr_t)zero); printf("no #PF?! %d\n", r); }
  else report("null read", pf_read_site);

  if (TRY()) { do_write((volatile uint32_t *)(uintptr_t)(0x10 + zero), 5); printf("no #PF?!\n"); }
  else report("page-0 write", pf_write_site);

  if (TRY()) { r = (int)do_read((const volatile uint64_t *)(uintptr_t)(UNMAPPED + 0x238 + zero)); printf("no #PF?! %d\n", r); }
  else report("unmapped read", pf_read_site);

  if (TRY()) {
    void (*fn)(void) = (void (*)(void))(uintptr_t)(UNMAPPED + 0x40 + zero);
    fn();
    printf("no #PF?!\n");
  } else {
    report("fetch from unmapped", (const char *)(uintptr_t)(UNMAPPED + 0x40));
  }

  if (TRY()) { r = (int)do_gp(0x8000000000000000ull + zero); printf("no #GP?! %d\n", r); }
  else report("non-canonical read", gp_site);

  r = do_int40(30);
  printf("int 0x40 resumed, result %d\n", r);
  report("int $0x40", int_after);

  /* demand paging: the handler maps the page, the instruction is retried */
  enable_demand_paging();
  handled = 0;
  volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)(UNMAPPED + 0x100);
  uint64_t before = do_read((const volatile uint64_t *)(uintptr_t)(UNMAPPED + 0x100));
  do_write(p, 0xabcd1234);
  p[1] = 77;
  printf("demand paging: first read %llu, then %#x %u, faults taken %d\n", (unsigned long long)before, p[0], p[1], handled);
  disable_demand_paging();

  /* repeated faults in a loop: the handler path must be reusable */
  volatile int n = 0;
  for (volatile int i = 0; i < 50; i++) {
    if (TRY()) { r = (int)do_div((uint32_t)i, zero); }
    else n++;
    r = do_ud2(i);
    n += r - i;
  }
  printf("loop: %d recoveries\n", n);
  printf("frame %s\n", frame_bad ? "BAD" : "ok");
  return 0x30 + frame_bad;
}
