/* platform.h: what the firmware harness needs from each board (Uno, Cortex-M4 on QEMU, host).
 *
 * Part of the TinyML course (tinyml_helpers/deploy/harness). Each platform gives: a way
 * to print a line, a cycle (or instruction) counter, the stack pointer, the lowest address the
 * stack may grow down to, and a way to stop. platform_<target>.c holds the out-of-line parts.
 */
#ifndef PLATFORM_H
#define PLATFORM_H

#include <stdint.h>

void platform_init(void);
void platform_write(const char *text, uint8_t length);
void platform_flush(void); /* wait until printing can no longer interrupt a measurement */
void platform_exit(int code) __attribute__((noreturn));

#if defined(__AVR__)
/* ---- Arduino Uno (ATmega328P, 16 MHz), simulated by simavr ------------------------------- */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/pgmspace.h>

#define PLATFORM_UNIT "cycles"
#define PLATFORM_REPEAT 1 /* Timer1 counts single cycles: one inference per measurement */
#define HARNESS_CONST PROGMEM
#define HARNESS_READ_I8(p) ((int8_t)pgm_read_byte(p))
#define HARNESS_READ_F32(p) pgm_read_float(p)

extern volatile uint16_t platform_overflows;
extern uint8_t __heap_start; /* avr-libc: first byte after .data/.bss */

/* Timer1 runs at clk/1; its overflow interrupt counts the 65,536-cycle wraps. */
static inline __attribute__((always_inline)) void platform_timer_start(void) {
  TCCR1B = 0;
  TCNT1 = 0;
  platform_overflows = 0;
  TIFR1 = _BV(TOV1);
  TCCR1B = _BV(CS10);
}

static inline __attribute__((always_inline)) uint32_t platform_timer_stop(void) {
  uint16_t low = TCNT1;
  TCCR1B = 0;
  cli();
  uint32_t count = ((uint32_t)platform_overflows << 16) + low;
  /* A wrap whose interrupt had not run yet, and that happened before `low` was read. */
  if ((TIFR1 & _BV(TOV1)) && low < 0x8000u) count += 65536UL;
  sei();
  return count;
}

/* SP points at the next free byte (push stores, then decrements). */
#define PLATFORM_STACK_TOP() ((uint8_t *)SP + 1)
#define PLATFORM_STACK_FLOOR() (&__heap_start)

#elif defined(__arm__)
/* ---- Cortex-M4F on QEMU's mps2-an386 board, with semihosting ------------------------------ */
#define PLATFORM_UNIT "instructions"
/* With -icount shift=0 each instruction is 1 ns of virtual time and the AN386 SysTick ticks at
 * 25 MHz: one tick = 40 instructions. 40 repeats per measurement make one tick = one
 * instruction per inference. (On a real board SysTick counts cycles.) */
#define PLATFORM_REPEAT 40
#define HARNESS_CONST
#define HARNESS_READ_I8(p) (*(p))
#define HARNESS_READ_F32(p) (*(p))

#define PLATFORM_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define PLATFORM_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define PLATFORM_SYST_CVR (*(volatile uint32_t *)0xE000E018u)

extern uint32_t platform_ticks_start;

static inline __attribute__((always_inline)) void platform_timer_start(void) {
  PLATFORM_SYST_RVR = 0x00FFFFFFu;
  PLATFORM_SYST_CVR = 0;
  PLATFORM_SYST_CSR = 5; /* enable, processor clock, no interrupt */
  platform_ticks_start = PLATFORM_SYST_CVR;
}

static inline __attribute__((always_inline)) uint32_t platform_timer_stop(void) {
  uint32_t now = PLATFORM_SYST_CVR; /* SysTick counts down */
  return (platform_ticks_start - now) & 0x00FFFFFFu;
}

static inline __attribute__((always_inline)) uint8_t *platform_sp(void) {
  uint8_t *sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  return sp;
}
#define PLATFORM_STACK_TOP() platform_sp() /* full descending: SP is the last used byte */
#define PLATFORM_STACK_FLOOR() (platform_sp() - 4096)

#else
/* ---- The host PC (gcc): same harness, no counter --------------------------------------- */
#define PLATFORM_UNIT "none"
#define PLATFORM_REPEAT 1
#define HARNESS_CONST
#define HARNESS_READ_I8(p) (*(p))
#define HARNESS_READ_F32(p) (*(p))

static inline void platform_timer_start(void) {}
static inline uint32_t platform_timer_stop(void) { return 0; }

uint8_t *platform_host_sp(void); /* main's stack pointer less a few bytes: platform_host.c */
/* platform_init() has touched the 16 KB below main's frame, so those pages are mapped. */
#define PLATFORM_STACK_TOP() platform_host_sp()
#define PLATFORM_STACK_FLOOR() (platform_host_sp() - 16384)
#endif

#endif /* PLATFORM_H */
