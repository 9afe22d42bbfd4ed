/* arduino_shim.cpp: the out-of-line half of the Arduino stand-in (Arduino.h): Serial.printf,
 * the clock, and main(), which runs setup() once and loop() ARDUINO_SHIM_LOOPS times.
 * Part of the TinyML course (tinyml_helpers/deploy/arduino_shim). */
#include <stdarg.h>

#include "Arduino.h"

#ifndef ARDUINO_SHIM_LOOPS
#define ARDUINO_SHIM_LOOPS 20
#endif

ShimSerial Serial;

size_t ShimSerial::printf(const char *format, ...) {
  va_list args;
  va_start(args, format);
  int n = vprintf(format, args);
  va_end(args);
  return n < 0 ? 0 : (size_t)n;
}

#if defined(__arm__)
/* SysTick of QEMU's mps2-an386 ticks at 25 MHz of virtual time; with -icount shift=0 one
 * instruction is 1 ns, so one tick is 40 instructions. Polled (no interrupt): micros() is
 * called far more often than the 24-bit counter wraps (every 671 M instructions). */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static uint32_t last_count;
static uint64_t ticks;

static void clock_start() {
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 5; /* enable, processor clock, no interrupt */
  last_count = SYST_CVR;
}

static uint64_t instructions() {
  uint32_t now = SYST_CVR; /* counts down */
  ticks += (last_count - now) & 0x00FFFFFFu;
  last_count = now;
  return ticks * 40u;
}

unsigned long micros() { return (unsigned long)(instructions() / 64u); }
#else
#include <time.h>

static void clock_start() {}

unsigned long micros() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (unsigned long)(now.tv_sec * 1000000UL + now.tv_nsec / 1000);
}
#endif

unsigned long millis() { return micros() / 1000u; }
void delay(unsigned long) {}

void setup();
void loop();

int main() {
  clock_start();
  setup();
  for (long i = 0; i < ARDUINO_SHIM_LOOPS; ++i) loop();
  fflush(stdout);
  return 0;
}
