/* Arduino.h: a small stand-in for the Arduino API, enough to build the course's TensorFlow Lite
 * Micro sketch (hello_world_tflm) for this PC (g++) or for a Cortex-M4F run by QEMU
 * (arm-none-eabi-g++, newlib-nano, semihosting).
 *
 * Part of the TinyML course (tinyml_helpers/deploy/arduino_shim), used by
 * tinyml_helpers.deploy.tflm_build. Serial prints to stdout (semihosting on the M4); main() in
 * arduino_shim.cpp calls setup() once and loop() ARDUINO_SHIM_LOOPS times, then exits; it also
 * exits when a sketch prints F("done") (the plain-C sketches' stop_running(), which then idles
 * forever on a board). F(), PROGMEM and pgm_read_* are the AVR flash helpers, here plain reads.
 * delay() returns at once. micros() is the wall clock on the PC; on the M4 it is QEMU's
 * instruction count (-icount shift=0) turned into microseconds at 64 MHz, one instruction
 * per cycle.
 */
#ifndef TINYML_TFLM_ARDUINO_SHIM_H
#define TINYML_TFLM_ARDUINO_SHIM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIGH 1
#define LOW 0
#define INPUT 0
#define OUTPUT 1
#ifndef LED_BUILTIN
#define LED_BUILTIN 2
#endif
#define constrain(x, low, high) ((x) < (low) ? (low) : ((x) > (high) ? (high) : (x)))

/* Flash on AVR boards; everywhere else constants are read in place. */
#define PROGMEM
#define pgm_read_byte(p) (*(const uint8_t *)(p))
#define pgm_read_word(p) (*(const uint16_t *)(p))
#define pgm_read_dword(p) (*(const uint32_t *)(p))
#define pgm_read_float(p) (*(const float *)(p))
class __FlashStringHelper;
#define F(text) (reinterpret_cast<const __FlashStringHelper *>(text))

unsigned long micros();
unsigned long millis();
void delay(unsigned long ms);
inline void pinMode(int, int) {}
inline void digitalWrite(int, int) {}
inline void analogWrite(int, int) {}

class ShimSerial {
 public:
  void begin(unsigned long) {}
  void flush() { fflush(stdout); }
  size_t print(const char *text) { return (size_t)printf("%s", text); }
  size_t print(const __FlashStringHelper *text) {
    return print(reinterpret_cast<const char *>(text));
  }
  size_t print(char c) { return (size_t)printf("%c", c); }
  size_t print(int v) { return (size_t)printf("%d", v); }
  size_t print(unsigned v) { return (size_t)printf("%u", v); }
  size_t print(long v) { return (size_t)printf("%ld", v); }
  size_t print(unsigned long v) { return (size_t)printf("%lu", v); }
  size_t print(double v, int digits = 2) { return (size_t)printf("%.*f", digits, v); }
  size_t println() { return print("\r\n"); }
  template <typename T>
  size_t println(T v) {
    size_t n = print(v);
    return n + println();
  }
  size_t println(double v, int digits) {
    size_t n = print(v, digits);
    return n + println();
  }
  /* "done" ends the program: after it a sketch only idles, which would hang a test run. */
  size_t println(const __FlashStringHelper *text) {
    size_t n = print(text) + println();
    if (strcmp(reinterpret_cast<const char *>(text), "done") == 0) {
      fflush(stdout);
      exit(0);
    }
    return n;
  }
  size_t printf(const char *format, ...) __attribute__((format(printf, 2, 3)));
};
extern ShimSerial Serial;

#endif /* TINYML_TFLM_ARDUINO_SHIM_H */
