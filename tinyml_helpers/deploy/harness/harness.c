/* harness.c: firmware that runs a model on inputs embedded at build time and prints each result.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/harness); built by
 * tinyml_helpers.deploy.firmware for the Uno (simavr), a Cortex-M4F (QEMU) and the host. It prints
 * one strict, machine-checked line per fact, so lost or garbled characters are detected:
 *
 *   BEGIN <int8|float> <cases> <inputs> <outputs> <unit>
 *   OUT <case> <v0> <v1> ...    int8 codes in decimal, floats as 8 hex digits of their bits
 *   CYC <case> <n>              cycles (Uno) or instructions (Cortex-M4) per inference
 *   STACK <bytes>               deepest stack one call of invoke() used, over all cases
 *   DONE <cases> <checksum>     Fletcher-16 of all output bytes
 */
#include <stdint.h>

#include "harness_cases.h" /* generated: HARNESS_* sizes, the model's header, the inputs */
#include "platform.h"

#if HARNESS_INT8
typedef int8_t value_t;
#define HARNESS_KIND "int8"
#else
typedef float value_t;
#define HARNESS_KIND "float"
#endif

typedef void (*invoke_fn)(const value_t *input, value_t *output);

/* Stands in for the model when measuring the cost of the call itself (and in the baseline). */
__attribute__((noinline)) void harness_empty_invoke(const value_t *input, value_t *output) {
  __asm volatile("" : : "r"(input), "r"(output) : "memory");
}

#ifndef HARNESS_INVOKE
#define HARNESS_INVOKE harness_empty_invoke /* the empty baseline: the harness, no model */
#endif

/* Called through volatile pointers, so the compiler (with link-time optimization) cannot
 * inline them: the stack probe and the counter then see exactly one real call. */
static invoke_fn volatile model = HARNESS_INVOKE;
static invoke_fn volatile empty_model = harness_empty_invoke;

/* ---- printing without printf: a line buffer, decimal and hex ------------------------------ */
/* simavr prints a UART line of at most 256 characters: "OUT <case>" and 32 codes of up to 5
 * characters (or 16 hex floats of 9) stay below that on every target. */
#if HARNESS_INT8
#define HARNESS_OUT_PER_LINE 32
#else
#define HARNESS_OUT_PER_LINE 16
#endif
static char line[96];
static uint8_t line_length;

static void put_char(char c) {
  if (line_length == sizeof line) { /* a long line goes out in pieces */
    platform_write(line, line_length);
    line_length = 0;
  }
  line[line_length++] = c;
}

static void put_text(const char *text) {
  while (*text) put_char(*text++);
}

static void put_dec(int32_t value) {
  char digits[11];
  uint8_t n = 0;
  uint32_t magnitude = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
  if (value < 0) put_char('-');
  do {
    digits[n++] = (char)('0' + magnitude % 10u);
    magnitude /= 10u;
  } while (magnitude);
  while (n) put_char(digits[--n]);
}

#if !HARNESS_INT8
static void put_hex32(uint32_t value) {
  for (int8_t bit = 28; bit >= 0; bit -= 4) put_char("0123456789abcdef"[(value >> bit) & 15u]);
}
#endif

static void end_line(void) {
  put_char('\r');
  put_char('\n');
  platform_write(line, line_length);
  line_length = 0;
}

/* ---- Fletcher-16 of every output byte, printed with DONE ------------------------------------ */
static uint16_t sum1, sum2;

static void checksum_bytes(const uint8_t *bytes, uint16_t n) {
  while (n--) {
    sum1 = (uint16_t)((sum1 + *bytes++) % 255u);
    sum2 = (uint16_t)((sum2 + sum1) % 255u);
  }
}

/* ---- stack high-water mark: paint the free stack, call, find the deepest changed byte ------ */
#define PAINT_MAX 1024u

static inline __attribute__((always_inline)) void paint_stack(uint8_t pattern) {
  volatile uint8_t *top = PLATFORM_STACK_TOP();
  volatile uint8_t *p = PLATFORM_STACK_FLOOR();
  if (top - p > (int32_t)PAINT_MAX) p = top - PAINT_MAX;
  while (p < top) *p++ = pattern;
}

static inline __attribute__((always_inline)) uint16_t stack_used(uint8_t pattern) {
  volatile uint8_t *top = PLATFORM_STACK_TOP();
  volatile uint8_t *p = PLATFORM_STACK_FLOOR();
  if (top - p > (int32_t)PAINT_MAX) p = top - PAINT_MAX;
  while (p < top && *p == pattern) ++p;
  return (uint16_t)(top - p);
}

/* Cost of PLATFORM_REPEAT calls of fn, per call; the same code measures the empty call. */
__attribute__((noinline, noclone)) static uint32_t measure(invoke_fn fn, const value_t *input,
                                                           value_t *output) {
  platform_timer_start();
  for (uint8_t r = 0; r < PLATFORM_REPEAT; ++r) fn(input, output);
  uint32_t ticks = platform_timer_stop();
  return ticks; /* Uno: 1 call, cycles; M4: 40 calls of 40-instruction ticks */
}

static uint8_t same_bytes(const value_t *a, const value_t *b) {
  const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
  for (uint16_t i = 0; i < sizeof(value_t) * HARNESS_N_OUT; ++i) {
    if (x[i] != y[i]) return 0;
  }
  return 1;
}

int main(void) {
  static value_t input[HARNESS_N_IN], output[HARNESS_N_OUT], again[HARNESS_N_OUT];
  uint16_t deepest = 0;
  platform_init();
  put_text("BEGIN " HARNESS_KIND " ");
  put_dec(HARNESS_N_CASES);
  put_char(' ');
  put_dec(HARNESS_N_IN);
  put_char(' ');
  put_dec(HARNESS_N_OUT);
  put_text(" " PLATFORM_UNIT);
  end_line();
  platform_flush();
  uint32_t empty = measure(empty_model, input, output);

  for (uint16_t c = 0; c < HARNESS_N_CASES; ++c) {
    for (uint16_t i = 0; i < HARNESS_N_IN; ++i) {
#if HARNESS_INT8
      input[i] = HARNESS_READ_I8(&harness_inputs[(uint32_t)c * HARNESS_N_IN + i]);
#else
      input[i] = HARNESS_READ_F32(&harness_inputs[(uint32_t)c * HARNESS_N_IN + i]);
#endif
    }
    /* Two painted calls with different patterns: a pushed byte equal to one pattern cannot
     * hide from both. Both calls must give the same outputs. */
    platform_flush();
    paint_stack(0xA5);
    model(input, output);
    uint16_t used = stack_used(0xA5);
    paint_stack(0x5A);
    model(input, again);
    uint16_t used2 = stack_used(0x5A);
    if (used2 > used) used = used2;
    if (used > deepest) deepest = used;
    if (!same_bytes(output, again)) {
      put_text("ERROR two calls on the same input gave different outputs");
      end_line();
      platform_exit(2);
    }
    uint32_t cost = measure(model, input, again);
    cost = cost > empty ? cost - empty : 0;

    put_text("OUT ");
    put_dec(c);
    for (uint16_t o = 0; o < HARNESS_N_OUT; ++o) {
      if (o && o % HARNESS_OUT_PER_LINE == 0) { /* a wide output goes out in several lines */
        end_line();
        put_text("OUT ");
        put_dec(c);
      }
      put_char(' ');
#if HARNESS_INT8
      put_dec(output[o]);
#else
      union {
        float f;
        uint32_t u;
      } bits = {output[o]};
      put_hex32(bits.u);
#endif
    }
    end_line();
    checksum_bytes((const uint8_t *)output, sizeof output);
    put_text("CYC ");
    put_dec(c);
    put_char(' ');
    put_dec((int32_t)cost);
    end_line();
  }
  put_text("STACK ");
  put_dec(deepest);
  end_line();
  put_text("DONE ");
  put_dec(HARNESS_N_CASES);
  put_char(' ');
  put_dec((int32_t)((uint16_t)(sum2 << 8) | sum1));
  end_line();
  platform_exit(0);
}
