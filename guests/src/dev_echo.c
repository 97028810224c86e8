/* dev_echo: an interrupt-driven console. Initialises COM1 (divisor 1 = 115200 baud, 8N1,
 * FIFOs on with a receive trigger level of 4 bytes), enables only the received-data interrupt
 * (IER bit 0, which also covers the FIFO character timeout), routes IRQ 4 through the PIC
 * (vector 0x24), and sleeps in HLT. The IRQ 4 handler drains the receive FIFO into a ring
 * buffer (reading IIR until "no interrupt pending"); the main loop assembles lines and echoes
 * each one in upper case as "> LINE". A line "quit" ends the run with status 0 after printing
 * the number of lines, bytes and interrupts seen. CR is ignored, so CRLF input works too.
 *
 * Behaviour on hardware: the FIFO raises IRQ 4 at 4 bytes, or after 4 character times
 * without a new byte when fewer are waiting; either way the handler gets every byte, so the
 * echo is exactly the input, upper-cased, line by line. */
#include "x86ft.h"
#include "dev/pc.h"

#define RING 4096
static volatile uint8_t ring[RING];
static volatile uint32_t ring_head, ring_tail;   /* head: written by the IRQ handler */
static volatile uint32_t irqs, overruns, lsr_errors;

static void on_com1(struct x86ft_frame *f) {
  (void)f;
  irqs++;
  for (;;) {
    uint8_t iir = inb(COM1 + UART_IIR);
    if (iir & 1) break;                       /* no interrupt pending */
    switch (iir & 0x0E) {
      case 0x06: lsr_errors++; (void)inb(COM1 + UART_LSR); break;   /* line status */
      case 0x04: case 0x0C:                                          /* data / timeout */
        while (inb(COM1 + UART_LSR) & 0x01) {
          uint8_t b = inb(COM1 + UART_RBR);
          if (ring_head - ring_tail < RING) { ring[ring_head % RING] = b; ring_head++; }
          else overruns++;
        }
        break;
      case 0x00: (void)inb(COM1 + 6); break;  /* modem status */
      default: break;                         /* THRE: not enabled */
    }
  }
  pic_eoi(4);
}

static int getc_blocking(void) {
  cli();
  while (ring_tail == ring_head) sti_hlt_cli();
  int c = ring[ring_tail % RING];
  ring_tail++;
  sti();
  return c;
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  cli();
  uart_init(1, 0x40);
  idt_set_handler(IRQ_VEC(4), on_com1);
  pic_remap(0x20, 0x28);
  pic_unmask(4);
  outb(COM1 + UART_IER, 0x01);               /* received data available (and timeout) */
  sti();
  printf("dev_echo ready\n");

  static char line[1024];
  unsigned len = 0, lines = 0, bytes = 0;
  for (;;) {
    int c = getc_blocking();
    bytes++;
    if (c == '\r') continue;
    if (c != '\n') {
      if (len < sizeof line - 1) line[len++] = (char)c;
      continue;
    }
    line[len] = 0;
    lines++;
    if (strcmp(line, "quit") == 0) {
      printf("bye: %u lines, %u bytes, %s interrupts, %u overruns, %u line errors\n", lines, bytes,
             irqs > 0 ? "some" : "no", overruns, lsr_errors);
      return overruns || lsr_errors || irqs == 0 ? 1 : 0;
    }
    for (unsigned i = 0; i < len; i++) line[i] = (char)toupper((unsigned char)line[i]);
    printf("> %s\n", line);
    len = 0;
  }
}
