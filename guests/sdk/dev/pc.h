/* x86ft device guests: small header-only drivers for the standard PC devices
 * (8259 PIC pair, 8254 PIT, MC146818 RTC, 16550 UART) and a few CPU helpers.
 * Header-only (static inline) so that a guest needs nothing beyond the SDK library.
 * Written from the datasheets' register descriptions, for the emulator only. */
#ifndef X86FT_DEV_PC_H
#define X86FT_DEV_PC_H
#include "x86ft.h"

/* ---- 8259A PIC pair ------------------------------------------------------------------- */
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20
/* Vector of IRQ n after pic_remap(): the conventional 0x20-0x2F. */
#define IRQ_VEC(n) (0x20 + (n))

/* ICW1-ICW4 on both chips: master vectors base1..base1+7, slave base2..base2+7, slave on IRQ 2,
 * 8086 mode, normal EOI. Leaves every line masked except the cascade (IRQ 2). The per-line
 * trigger mode (ELCR, ports 0x4D0/0x4D1) is not touched: the machine sets it for virtio lines. */
static inline void pic_remap(uint8_t base1, uint8_t base2) {
  outb(PIC1_CMD, 0x11);   /* ICW1: edge, cascade, ICW4 follows */
  outb(PIC2_CMD, 0x11);
  outb(PIC1_DATA, base1); /* ICW2: vector base */
  outb(PIC2_DATA, base2);
  outb(PIC1_DATA, 0x04);  /* ICW3 master: a slave on IR2 */
  outb(PIC2_DATA, 0x02);  /* ICW3 slave: my cascade identity is 2 */
  outb(PIC1_DATA, 0x01);  /* ICW4: 8086/88 mode */
  outb(PIC2_DATA, 0x01);
  outb(PIC1_DATA, 0xFB);  /* OCW1: all masked but the cascade */
  outb(PIC2_DATA, 0xFF);
}

static inline void pic_unmask(int irq) {
  if (irq < 8) outb(PIC1_DATA, inb(PIC1_DATA) & ~(1u << irq));
  else outb(PIC2_DATA, inb(PIC2_DATA) & ~(1u << (irq - 8)));
}

static inline void pic_mask(int irq) {
  if (irq < 8) outb(PIC1_DATA, inb(PIC1_DATA) | (1u << irq));
  else outb(PIC2_DATA, inb(PIC2_DATA) | (1u << (irq - 8)));
}

/* Non-specific EOI; a slave line needs one on both chips. */
static inline void pic_eoi(int irq) {
  if (irq >= 8) outb(PIC2_CMD, PIC_EOI);
  outb(PIC1_CMD, PIC_EOI);
}

/* OCW3 "read ISR" then read: the in-service bits of both chips (slave in bits 8-15). */
static inline uint16_t pic_isr(void) {
  outb(PIC1_CMD, 0x0B); outb(PIC2_CMD, 0x0B);
  uint16_t v = (uint16_t)(inb(PIC1_CMD) | (inb(PIC2_CMD) << 8));
  outb(PIC1_CMD, 0x0A); outb(PIC2_CMD, 0x0A);   /* back to reading IRR */
  return v;
}

/* ---- 8254 PIT ------------------------------------------------------------------------- */
#define PIT_HZ 1193182u

/* Channel 0, lo/hi access, `mode` (2 rate generator or 3 square wave), binary count. */
static inline void pit_start(int mode, uint16_t divisor) {
  outb(0x43, (uint8_t)(0x30 | (mode << 1)));
  outb(0x40, (uint8_t)divisor);
  outb(0x40, (uint8_t)(divisor >> 8));
}

/* Latches and reads channel 0's current count. */
static inline uint16_t pit_read(void) {
  outb(0x43, 0x00);
  uint8_t lo = inb(0x40);
  return (uint16_t)(lo | (inb(0x40) << 8));
}

/* ---- MC146818 RTC --------------------------------------------------------------------- */
static inline uint8_t cmos_read(uint8_t reg) { outb(0x70, reg); return inb(0x71); }
static inline void cmos_write(uint8_t reg, uint8_t v) { outb(0x70, reg); outb(0x71, v); }

struct rtc_time { int sec, min, hour, mday, mon, year; };

static inline int rtc_bcd(int v) { return (v >> 4) * 10 + (v & 15); }

static inline void rtc_raw(uint8_t r[6]) {
  r[0] = cmos_read(0x00); r[1] = cmos_read(0x02); r[2] = cmos_read(0x04);
  r[3] = cmos_read(0x07); r[4] = cmos_read(0x08); r[5] = cmos_read(0x09);
}

/* The usual safe read: wait until no update is in progress (register A bit 7), read all
 * registers, and repeat until two consecutive reads agree (an update may slip in between).
 * Decodes BCD or binary and 12- or 24-hour mode per register B. */
static inline void rtc_read(struct rtc_time *t) {
  uint8_t a[6], b[6];
  for (;;) {
    while (cmos_read(0x0A) & 0x80) {}
    rtc_raw(a);
    while (cmos_read(0x0A) & 0x80) {}
    rtc_raw(b);
    if (memcmp(a, b, 6) == 0) break;
  }
  uint8_t regb = cmos_read(0x0B);
  int pm = (a[2] & 0x80) != 0;
  int v[6];
  for (int i = 0; i < 6; i++) v[i] = i == 2 ? (a[i] & 0x7f) : a[i];
  if (!(regb & 0x04)) for (int i = 0; i < 6; i++) v[i] = rtc_bcd(v[i]);
  if (!(regb & 0x02)) v[2] = (v[2] % 12) + (pm ? 12 : 0);
  t->sec = v[0]; t->min = v[1]; t->hour = v[2]; t->mday = v[3]; t->mon = v[4]; t->year = 2000 + v[5];
}

static inline int rtc_daysec(const struct rtc_time *t) { return t->hour * 3600 + t->min * 60 + t->sec; }

/* ---- 16550 UART (COM1) ---------------------------------------------------------------- */
#define COM1 0x3F8
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

/* Divisor `div` (115200 / baud), 8 data bits, no parity, 1 stop bit, FIFOs on and cleared with
 * receive trigger `fcr_trigger` (0x00, 0x40, 0x80, 0xC0 = 1, 4, 8, 14 bytes), DTR, RTS, OUT2
 * (which gates the IRQ on a PC), interrupts off. */
static inline void uart_init(uint16_t div, uint8_t fcr_trigger) {
  outb(COM1 + UART_IER, 0x00);
  outb(COM1 + UART_LCR, 0x80);                 /* DLAB */
  outb(COM1 + 0, (uint8_t)div);
  outb(COM1 + 1, (uint8_t)(div >> 8));
  outb(COM1 + UART_LCR, 0x03);                 /* 8N1, DLAB off */
  outb(COM1 + UART_FCR, (uint8_t)(0x07 | fcr_trigger));
  outb(COM1 + UART_MCR, 0x0B);
}

/* ---- CPU ------------------------------------------------------------------------------ */
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* Atomically enable interrupts and halt (STI's shadow covers the HLT), then disable again:
 * the race-free way to wait for an interrupt that a condition checked with IF = 0 depends on. */
static inline void sti_hlt_cli(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

#endif
