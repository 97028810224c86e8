/* dev_sched: a preemptive round-robin scheduler driven by the PIT (IRQ 0 at RATE Hz, default
 * 100; the first number on the command line is the number of ticks to run, default 200).
 *
 * Three worker tasks, each on its own 16 KiB stack, plus the main task, which sleeps in HLT
 * until enough ticks have passed. Every IRQ 0 switches to the next context in a fixed order:
 * the SDK's interrupt stub saves all general-purpose registers and the CPU's IRETQ frame in a
 * struct x86ft_frame on the interrupted stack; the handler copies that frame into the current
 * task's slot and overwrites it with the next task's saved frame, so the stub "returns" into
 * the other task (registers, RIP, RSP and RFLAGS all restored).
 *
 * Each worker increments a counter held in a register-allocated local and a copy in memory,
 * and checks after every step that the two agree (a context switch that lost or mixed up a
 * register would break that), and prints "task N: C" every STEP iterations inside a critical
 * section (IF = 0), so lines never interleave. At the end it prints each task's counter and
 * number of time slices, and checks the invariants that do not depend on host timing:
 *   - every worker made progress and never saw a register mismatch;
 *   - the slices add up to ticks + 1 (main held the CPU when the first tick came);
 *   - round robin: the slice counts of the four contexts differ by at most one;
 *   - the sum of the counters equals the total printed.
 * Exit status 0 when all hold. */
#include "x86ft.h"
#include "dev/pc.h"

#define NTASK 4          /* 0-2 workers, 3 = main */
#define MAIN 3
#define STACK 16384
#define STEP (1u << 16)
#define RATE 100

static struct x86ft_frame ctx[NTASK];
static uint8_t stacks[NTASK - 1][STACK] __attribute__((aligned(16)));
static volatile int cur = MAIN;
static volatile uint64_t counters[NTASK - 1];
static volatile uint32_t slices[NTASK];
static volatile uint32_t mismatches[NTASK - 1];
static volatile uint32_t ticks;

static void on_tick(struct x86ft_frame *f) {
  ticks++;
  pic_eoi(0);
  int next = (cur + 1) % NTASK;
  ctx[cur] = *f;
  *f = ctx[next];
  cur = next;
  slices[next]++;
}

static void worker(int id) {
  uint64_t local = 0;
  for (;;) {
    local++;
    counters[id]++;
    if (local != counters[id]) { mismatches[id]++; local = counters[id]; }
    if ((local & (STEP - 1)) == 0) {
      cli();
      printf("task %d: %lu\n", id, (unsigned long)local);
      sti();
    }
  }
}

int main(const struct x86ft_bootinfo *bi) {
  uint32_t want = (uint32_t)x86ft_cmdline_number(bi, 200);
  cli();
  for (int i = 0; i < NTASK - 1; i++) {
    struct x86ft_frame *c = &ctx[i];
    memset(c, 0, sizeof *c);
    c->rip = (uint64_t)(uintptr_t)worker;
    c->rdi = (uint64_t)i;
    c->cs = 0x08;
    c->ss = 0x10;
    c->rflags = 0x202;                                       /* IF on */
    c->rsp = (uint64_t)(uintptr_t)&stacks[i][STACK] - 8;     /* as if called: RSP+8 16-aligned */
  }
  slices[MAIN] = 1;
  idt_set_handler(IRQ_VEC(0), on_tick);
  pic_remap(0x20, 0x28);
  pit_start(2, (uint16_t)((PIT_HZ + RATE / 2) / RATE));
  pic_unmask(0);
  printf("dev_sched: %d workers, round robin at %d Hz for %u ticks\n", NTASK - 1, RATE, want);
  while (ticks < want) sti_hlt_cli();
  pic_mask(0);
  uint32_t t = ticks;   /* IF = 0 from here: no more switches */

  uint64_t total = 0;
  uint32_t sl = 0, smin = 0xffffffffu, smax = 0;
  int ok = 1;
  for (int i = 0; i < NTASK; i++) {
    sl += slices[i];
    if (slices[i] < smin) smin = slices[i];
    if (slices[i] > smax) smax = slices[i];
  }
  for (int i = 0; i < NTASK - 1; i++) {
    printf("task %d: final %lu, %u slices, %u mismatches\n", i, (unsigned long)counters[i], slices[i], mismatches[i]);
    total += counters[i];
    if (counters[i] == 0) { printf("FAIL: task %d made no progress\n", i); ok = 0; }
    if (mismatches[i]) { printf("FAIL: task %d lost its registers\n", i); ok = 0; }
  }
  printf("main: %u slices\n", slices[MAIN]);
  printf("ticks %u, slices %u, total %lu\n", t, sl, (unsigned long)total);
  if (sl != t + 1) { printf("FAIL: slices %u != ticks + 1\n", sl); ok = 0; }
  if (smax - smin > 1) { printf("FAIL: unfair: slices %u..%u\n", smin, smax); ok = 0; }
  if (total != counters[0] + counters[1] + counters[2]) { printf("FAIL: sum\n"); ok = 0; }
  printf(ok ? "scheduler ok\n" : "scheduler FAILED\n");
  return ok ? 0 : 1;
}
