/* dev_timer: the PIT, the PIC and the RTC agree on how fast time goes.
 *
 * Programs PIT channel 0 as a rate generator (mode 2) at RATE Hz (the first number on the
 * command line, default 100), remaps the PIC to vectors 0x20-0x2F, unmasks IRQ 0 only and
 * counts ticks in the IRQ 0 handler (EOI to the master PIC). Then, with interrupts on, it
 * waits (alternately spinning and HLT-ing) for an RTC second boundary, and measures the ticks
 * across the next SECONDS whole RTC seconds, boundary to boundary.
 *
 * Expected count and tolerance (the RTC's 1 s resolution is neutralised by measuring between
 * two observed second boundaries):
 *  - each boundary is observed at most one tick period late (the waiting loop wakes on every
 *    tick), so with no lost ticks the count is rate * SECONDS +- 2;
 *  - an 8259 holds one pending edge per line: if the CPU does not take IRQ 0 within one period
 *    (a loaded host, on the emulator: gate polls further apart than a period), ticks merge and
 *    are lost, exactly as on hardware. The handler therefore stamps each tick with RDTSC and
 *    the PIT's current count, which says how long ago the edge that caused it happened; with
 *    the TSC rate calibrated against the same RTC boundaries, this puts every delivered tick
 *    on the PIT's grid, and a distance of k periods between two ticks means k-1 lost ones.
 *    The stamp is taken when the handler runs, which can be later than the moment the count
 *    was sampled (on the emulator, device time only moves at gate polls while the TSC is read
 *    live, and an idle machine may sleep a few ms between a poll and the interrupt), so each
 *    gap's estimate may be off by one.
 * Checks: ticks <= expected + 2 (a timer can never run fast); ticks >= expected/4 (the timer
 * really interrupts); |ticks + lost - expected| <= 2 + (gaps with losses) + expected/100.
 * Exit status 0 when all hold, 1 otherwise. */
#include "x86ft.h"
#include "dev/pc.h"

#define SECONDS 2
#define MAX_STAMPS 16384

static volatile uint32_t ticks;
static volatile int recording;
static uint64_t stamps[MAX_STAMPS];
static uint16_t counts[MAX_STAMPS];
static uint16_t div;
static volatile uint32_t nstamps;

static void on_timer(struct x86ft_frame *f) {
  (void)f;
  ticks++;
  if (recording && nstamps < MAX_STAMPS) {
    stamps[nstamps] = rdtsc();
    counts[nstamps++] = pit_read();   /* mode 2 counts div..1; div - count = PIT clocks since the edge */
  }
  pic_eoi(0);
}

/* Wait until the RTC seconds register differs from `sec`; returns the new time, with
 * interrupts disabled. The check runs with IF = 0 and the wait is STI;HLT (atomic), so the
 * tick that comes with a boundary always ends the wait; every other round busy-waits
 * instead (a few thousand loop iterations with interrupts on). */
static void wait_second_change(int sec, struct rtc_time *t) {
  unsigned n = 0;
  for (;;) {
    cli();
    rtc_read(t);
    if (t->sec != sec) return;
    if (n++ & 1) { sti(); for (volatile int i = 0; i < 2000; i++) {} }
    else sti_hlt_cli();
  }
}

int main(const struct x86ft_bootinfo *bi) {
  unsigned rate = (unsigned)x86ft_cmdline_number(bi, 100);
  if (rate < 19 || rate > 10000) { printf("rate %u out of range\n", rate); return 2; }
  div = (uint16_t)((PIT_HZ + rate / 2) / rate);

  cli();
  idt_set_handler(IRQ_VEC(0), on_timer);
  pic_remap(0x20, 0x28);
  pit_start(2, div);
  pic_unmask(0);
  printf("dev_timer: PIT mode 2 divisor %u (%u.%03u Hz), IRQ 0 -> vector 0x20\n", div,
         PIT_HZ / div, (unsigned)(((uint64_t)(PIT_HZ % div) * 1000) / div));
  sti();

  struct rtc_time t0, t1, t;
  rtc_read(&t);
  printf("rtc start %04d-%02d-%02d %02d:%02d:%02d\n", t.year, t.mon, t.mday, t.hour, t.min, t.sec);
  if (ticks == 0) { /* make sure the timer runs before trusting any measurement */
    unsigned spins = 0;
    while (ticks == 0 && spins < 100000000u) spins++;
    if (ticks == 0) { printf("FAIL: no timer tick\n"); return 1; }
  }

  wait_second_change(t.sec, &t0);         /* sync to a second boundary (returns with IF = 0) */
  uint32_t k0 = ticks;
  uint64_t tsc0 = rdtsc();
  nstamps = 0;
  recording = 1;
  sti();
  t = t0;
  for (int s = 0; s < SECONDS; s++) wait_second_change(t.sec, &t);
  uint32_t k1 = ticks;
  uint64_t tsc1 = rdtsc();
  recording = 0;
  t1 = t;

  int elapsed = (rtc_daysec(&t1) - rtc_daysec(&t0) + 86400) % 86400;
  uint32_t n = k1 - k0;
  /* expected ticks over `elapsed` seconds at the programmed rate, x1000 */
  uint64_t exp1000 = (uint64_t)elapsed * PIT_HZ * 1000 / div;
  uint32_t expected = (uint32_t)((exp1000 + 500) / 1000);

  /* lost ticks, from the stamps: the TSC rate is calibrated on the same RTC boundaries */
  uint64_t tsc_per_sec = elapsed ? (tsc1 - tsc0) / (uint64_t)elapsed : 0;
  uint64_t period = tsc_per_sec * div / PIT_HZ;
  uint32_t lost = 0, lossy = 0;
  uint64_t prev = 0;
  for (uint32_t i = 0; i < nstamps && period; i++) {
    uint32_t since = counts[i] == 0 ? 0 : (uint32_t)(div - counts[i]);
    uint64_t edge = stamps[i] - (uint64_t)since * tsc_per_sec / PIT_HZ;
    if (i > 0) {
      uint64_t k = (edge - prev + period / 2) / period;
      if (k > 1) { lost += (uint32_t)(k - 1); lossy++; }
    }
    prev = edge;
  }

  printf("rtc end   %04d-%02d-%02d %02d:%02d:%02d\n", t1.year, t1.mon, t1.mday, t1.hour, t1.min, t1.sec);
  printf("elapsed %d s, ticks %u, expected %u, lost %u in %u gaps\n", elapsed, n, expected, lost, lossy);

  int ok = 1;
  if (elapsed != SECONDS) { printf("FAIL: elapsed %d s, waited for %d boundaries\n", elapsed, SECONDS); ok = 0; }
  if (n > expected + 2) { printf("FAIL: too many ticks (%u > %u)\n", n, expected + 2); ok = 0; }
  if (n < expected / 4) { printf("FAIL: too few ticks (%u < %u)\n", n, expected / 4); ok = 0; }
  uint32_t total = n + lost, tol = 2 + lossy + expected / 100;
  if (total > expected + tol || total + tol < expected) {
    printf("FAIL: ticks + lost = %u, expected %u +- %u\n", total, expected, tol); ok = 0;
  }
  printf(ok ? "timer consistent with rtc\n" : "timer INCONSISTENT with rtc\n");
  return ok ? 0 : 1;
}
