/* cxx_runtime.cc: the few C++ runtime functions a TFLM program needs on a bare Cortex-M4F
 * when only the C++ *headers* are installed (Debian's libstdc++-arm-none-eabi-dev) and not
 * libstdc++/libsupc++ themselves (the program is linked with arm-none-eabi-gcc, so
 * no -lstdc++ is asked for).
 *
 * Part of the TinyML course (tinyml_helpers/deploy/tflm_harness), linked into the M4 builds of
 * tinyml_helpers.deploy.tflm_build. Single-threaded, no exceptions, no heap for C++ objects:
 * with TF_LITE_STATIC_MEMORY, TFLM never calls operator new or delete. Everything here is tiny
 * and only what the linker pulls in ends up in flash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

extern "C" {

/* A pure virtual function was called: a bug, stop. */
void __cxa_pure_virtual(void) { abort(); }

/* Function-local statics (if a file is compiled with thread-safe statics): one thread. */
int __cxa_guard_acquire(int32_t *guard) { return (*guard & 1) == 0; }
void __cxa_guard_release(int32_t *guard) { *guard = 1; }
void __cxa_guard_abort(int32_t *) {}

/* Destructors of static objects are registered here (ARM EABI); a firmware never returns
 * from main with them needing to run, so they are not kept. */
int __aeabi_atexit(void *, void (*)(void *), void *) { return 0; }
}

/* Virtual destructors emit "deleting" variants that name operator delete; none runs. */
void operator delete(void *) noexcept { abort(); }
void operator delete(void *, size_t) noexcept { abort(); }
