/* platform_host.c: the harness on the PC, built with gcc (stdout, exit code).
 * Part of the TinyML course (tinyml_helpers/deploy/harness). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

/* The frame of a function main calls starts just below main's stack pointer: everything
 * below it is free while main runs (main calls functions, so it keeps nothing below its SP). */
__attribute__((noinline)) uint8_t *platform_host_sp(void) {
  return (uint8_t *)__builtin_frame_address(0);
}

/* Touch 20 KB of stack once so the pages the stack probe paints are mapped. */
__attribute__((noinline)) static void touch_stack(void) {
  volatile uint8_t pages[20480];
  memset((uint8_t *)pages, 0, sizeof pages);
}

void platform_init(void) { touch_stack(); }

void platform_write(const char *text, uint8_t length) {
  while (length) {
    ssize_t n = write(1, text, length);
    if (n <= 0) exit(3);
    text += n;
    length = (uint8_t)(length - n);
  }
}

void platform_flush(void) {}

void platform_exit(int code) { exit(code); }
