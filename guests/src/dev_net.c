/* dev_net: a virtio-net driver of its own (virtio 1.x over MMIO, receiveq 0 and transmitq 1,
 * 12-byte virtio_net_hdr, receive completion by interrupt) serving a tiny request/response
 * protocol in raw Ethernet frames of ethertype 0x88B5 (IEEE 802 local experimental).
 *
 * A request is a frame to the guest's MAC (from the config space) or to the broadcast address,
 * whose payload is ASCII text (trailing NULs and whitespace ignored):
 *   "PING n"   -> "PONG n"
 *   "ADD a b"  -> "SUM c"       (signed 64-bit, c = a + b)
 *   "MAC"      -> "MAC xx:xx:xx:xx:xx:xx"
 *   "BYE"      -> "BYE", then the guest exits with status 0
 *   other      -> "ERR <request>"
 * The response goes to the request's source MAC, from the guest's MAC, ethertype 0x88B5.
 * Frames of any other ethertype or destination are counted and ignored. Each request is also
 * logged on the console ("rx PING 1"), after "dev_net ready" once the receive queue is armed. */
#include "x86ft.h"
#include "dev/pc.h"
#include "dev/virtio.h"

#define ETHERTYPE 0x88B5
#define HDR 12
#define RXBUF 2048
#define NRX 8

static struct virtq rxq __attribute__((aligned(4096)));
static struct virtq txq __attribute__((aligned(4096)));
static uint8_t rxbufs[NRX][RXBUF] __attribute__((aligned(64)));
static uint8_t txbuf[RXBUF] __attribute__((aligned(64)));
static uint8_t mac[6];
static uintptr_t base;
static int irq;
static volatile uint32_t interrupts;
static unsigned ignored, served;

static void on_irq(struct x86ft_frame *f) {
  (void)f;
  uint32_t st = vio_r32(base, VIO_INTERRUPT_STATUS);
  vio_w32(base, VIO_INTERRUPT_ACK, st);
  interrupts++;
  pic_eoi(irq);
}

static int rx_post(int i) {
  struct vq_buf b = { rxbufs[i], RXBUF, 1 };
  return vq_add(&rxq, &b, 1);
}

static void send(const uint8_t *dst, const char *payload) {
  size_t n = strlen(payload);
  memset(txbuf, 0, HDR);                       /* no offloads: flags 0, gso NONE */
  uint8_t *e = txbuf + HDR;
  memcpy(e, dst, 6);
  memcpy(e + 6, mac, 6);
  e[12] = ETHERTYPE >> 8; e[13] = ETHERTYPE & 0xff;
  memcpy(e + 14, payload, n);
  struct vq_buf b = { txbuf, (uint32_t)(HDR + 14 + n), 0 };
  cli();
  if (vq_add(&txq, &b, 1) < 0) { printf("tx queue full\n"); x86ft_exit(3); }
  vq_kick(&txq);
  while (!vq_has_used(&txq)) sti_hlt_cli();    /* the buffer is ours again once used */
  vq_get_used(&txq, NULL);
  sti();
}

/* Parses one signed decimal number; returns the position after it or NULL. */
static const char *num(const char *s, long long *v) {
  while (*s == ' ') s++;
  char *end;
  *v = strtoll(s, &end, 10);
  return end == s ? NULL : end;
}

/* Returns 1 when the guest should exit. */
static int serve(const uint8_t *frame, uint32_t len) {
  static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  if (len < 14 || ((frame[12] << 8) | frame[13]) != ETHERTYPE ||
      (memcmp(frame, mac, 6) != 0 && memcmp(frame, bcast, 6) != 0)) { ignored++; return 0; }
  char req[256], resp[300];
  uint32_t n = len - 14 < sizeof req - 1 ? len - 14 : sizeof req - 1;
  memcpy(req, frame + 14, n);
  req[n] = 0;
  n = (uint32_t)strlen(req);
  while (n && (req[n - 1] == ' ' || req[n - 1] == '\n' || req[n - 1] == '\r')) req[--n] = 0;
  printf("rx %s\n", req);
  long long a, b;
  const char *p;
  int bye = 0;
  if (strncmp(req, "PING", 4) == 0 && (req[4] == ' ' || req[4] == 0)) snprintf(resp, sizeof resp, "PONG%s", req + 4);
  else if (strncmp(req, "ADD ", 4) == 0 && (p = num(req + 4, &a)) && (p = num(p, &b)) && *p == 0)
    snprintf(resp, sizeof resp, "SUM %lld", (long long)((unsigned long long)a + (unsigned long long)b));
  else if (strcmp(req, "MAC") == 0)
    snprintf(resp, sizeof resp, "MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  else if (strcmp(req, "BYE") == 0) { snprintf(resp, sizeof resp, "BYE"); bye = 1; }
  else snprintf(resp, sizeof resp, "ERR %s", req);
  send(frame + 6, resp);
  served++;
  return bye;
}

int main(const struct x86ft_bootinfo *bi) {
  if (!vio_find(bi, 1, &base, &irq)) { printf("no virtio-net device\n"); return 2; }
  uint32_t offered, accepted;
  if (vio_negotiate(base, 1u << 5 /* MAC */, &offered, &accepted) != 0 || !(accepted & (1u << 5))) {
    printf("feature negotiation failed (offered %#x)\n", offered);
    return 2;
  }
  for (int i = 0; i < 6; i++) mac[i] = vio_cfg8(base, i);
  if (vq_setup(&rxq, base, 0) != 0 || vq_setup(&txq, base, 1) != 0) { printf("queue setup failed\n"); return 2; }
  cli();
  idt_set_handler(IRQ_VEC(irq), on_irq);
  pic_remap(0x20, 0x28);
  pic_unmask(irq);
  vio_driver_ok(base);
  for (int i = 0; i < NRX; i++) rx_post(i);
  vq_kick(&rxq);
  sti();
  printf("dev_net ready: virtio-net at %#lx irq %d mac %02x:%02x:%02x:%02x:%02x:%02x\n", (unsigned long)base, irq,
         mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);

  for (;;) {
    cli();
    while (!vq_has_used(&rxq)) sti_hlt_cli();
    uint32_t len = 0;
    int h = vq_get_used(&rxq, &len);
    sti();
    if (h < 0) continue;
    /* descriptor h carried rxbufs[k]: find k by address */
    uint8_t *p = (uint8_t *)(uintptr_t)rxq.desc[h].addr;
    int k = (int)((p - &rxbufs[0][0]) / RXBUF);
    int bye = len >= HDR ? serve(p + HDR, len - HDR) : 0;
    cli();
    rx_post(k);
    vq_kick(&rxq);
    sti();
    if (bye) {
      printf("bye: served %u requests, ignored %u frames\n", served, ignored);
      return 0;
    }
  }
}
