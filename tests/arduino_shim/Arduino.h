/* Arduino.h for the host: just enough of the Arduino API to compile a course sketch with g++ and
 * run it on this PC, taking the non-AVR code paths (what an ESP32 build compiles). Serial
 * prints to stdout; printing "done" ends the program. Used by tests/test_projects.py. */
#ifndef TINYML_ARDUINO_SHIM_H
#define TINYML_ARDUINO_SHIM_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGMEM
#define pgm_read_word(p) (*(const uint16_t *)(p))
#define pgm_read_byte(p) (*(const uint8_t *)(p))
class __FlashStringHelper;
#define F(text) (reinterpret_cast<const __FlashStringHelper *>(text))
#define HIGH 1
#define LOW 0
#define OUTPUT 1
#define LED_BUILTIN 2

inline unsigned long micros() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (unsigned long)(now.tv_sec * 1000000UL + now.tv_nsec / 1000);
}
inline void delay(unsigned long) {}
inline void pinMode(int, int) {}
inline void digitalWrite(int, int) {}
inline void analogWrite(int, int) {}
#define constrain(x, low, high) ((x) < (low) ? (low) : ((x) > (high) ? (high) : (x)))

struct HostSerial {
  void begin(long) {}
  void flush() { fflush(stdout); }
  void print(const __FlashStringHelper *text) { fputs(reinterpret_cast<const char *>(text), stdout); }
  void print(const char *text) { fputs(text, stdout); }
  void print(unsigned char v) { printf("%u", (unsigned)v); }
  void print(int v) { printf("%d", v); }
  void print(unsigned v) { printf("%u", v); }
  void print(long v) { printf("%ld", v); }
  void print(unsigned long v) { printf("%lu", v); }
  void print(double v, int digits = 2) { printf("%.*f", digits, v); }
  void println() { fputs("\r\n", stdout); }
  template <typename T> void println(T v) { print(v); println(); }
  void println(const __FlashStringHelper *text) {
    print(text);
    println();
    if (strcmp(reinterpret_cast<const char *>(text), "done") == 0) {
      fflush(stdout);
      exit(0);
    }
  }
};
inline HostSerial Serial;  // C++17: one object for every file

#endif
