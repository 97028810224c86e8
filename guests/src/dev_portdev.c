/* dev_portdev: a guest for a device that no PC has, the embedder's own I/O port device of
 * examples/port-device.mjs (registered with Machine.bus.registerPorts, not built into x86ft):
 *   port 0x600, byte write: feed one byte to the device;
 *   port 0x604, dword read: the CRC-32 (IEEE 802.3, as zlib's crc32) of the bytes fed since the last reset;
 *   port 0x604, dword write: reset.
 * The guest feeds each message of its command line (default "hello, device") and a fixed one, reads the
 * device's CRC, computes the CRC itself, prints both, and exits 0 when they all agree, 1 otherwise. */
#include "x86ft.h"

#define DEV_DATA 0x600
#define DEV_CRC 0x604

static uint32_t crc32_sw(const char *s, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= (uint8_t)s[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

static int check(const char *msg) {
  size_t n = strlen(msg);
  outl(DEV_CRC, 0);
  for (size_t i = 0; i < n; i++) outb(DEV_DATA, (uint8_t)msg[i]);
  uint32_t dev = inl(DEV_CRC), own = crc32_sw(msg, n);
  printf("\"%s\": device crc32 %08x, guest crc32 %08x: %s\n", msg, dev, own, dev == own ? "agree" : "DIFFER");
  return dev == own;
}

int main(const struct x86ft_bootinfo *bi) {
  const char *arg = x86ft_cmdline(bi);
  int ok = check(arg[0] ? arg : "hello, device");
  ok &= check("The quick brown fox jumps over the lazy dog");
  return ok ? 0 : 1;
}
