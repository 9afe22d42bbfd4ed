/* platform_m4.c: the harness on a Cortex-M4F, run by QEMU's mps2-an386 board.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/harness). newlib-nano's rdimon crt0
 * (_start) sets up the stack, .bss and semihosting; output goes through semihosting to QEMU's
 * stdout and returning from main ends QEMU with main's exit code.
 */
#include <stdlib.h>
#include <unistd.h>

#include "platform.h"

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

extern void _start(void);
extern uint32_t __StackTop;

uint32_t platform_ticks_start;

void Reset_Handler(void) {
  CPACR |= 0xFu << 20; /* the FPU is off after reset: enable CP10 and CP11 */
  __asm volatile("dsb\n\tisb");
  _start();
}

/* A fault prints a line the host recognises and ends the run instead of locking up. */
void Fault_Handler(void) {
  static const char message[] = "CRASH cortex-m fault\r\n";
  write(1, message, sizeof message - 1);
  _exit(1);
}

__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&__StackTop,
    Reset_Handler,
    Fault_Handler,
    Fault_Handler,
    Fault_Handler,
    Fault_Handler,
    Fault_Handler,
    0,
    0,
    0,
    0,
    Fault_Handler,
    Fault_Handler,
    0,
    Fault_Handler,
    Fault_Handler};

void platform_init(void) {}

void platform_write(const char *text, uint8_t length) { write(1, text, length); }

void platform_flush(void) {}

void platform_exit(int code) { exit(code); }
