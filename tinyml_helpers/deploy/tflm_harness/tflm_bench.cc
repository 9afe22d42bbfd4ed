/* tflm_bench.cc: TensorFlow Lite Micro inside the same firmware harness as the plain-C model
 * (deploy/harness/harness.c), so both are measured the same way: flash and RAM over the empty
 * harness, instructions per inference, stack.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/tflm_harness), built by
 * tinyml_helpers.deploy.tflm_build. The board's platform_<target>.c is compiled with
 * -Dplatform_init=platform_base_init, so the harness's first call lands in platform_init()
 * below: it sets TFLM up as a sketch does (GetModel, a resolver with exactly the model's
 * operators, the interpreter, AllocateTensors), measures that, invokes once, and prints,
 * before the harness's BEGIN line,
 *
 *   TFLM SETUP <instructions per set-up> STACK <set-up bytes> <Invoke bytes> ARENA <size> <used>
 *
 * or "TFLM ERROR ..." and exits 3. The arena size is kTensorArenaSize (model.h) unless the run
 * asks for another one (at most TFLM_ARENA_MAX) as the last number on its command line: argv
 * on the PC, the semihosting command line ("-semihosting-config ...,arg=bench,arg=<bytes>") on
 * QEMU. The generated tflm_ops.h names the model's operators (TFLM_OP_COUNT, TFLM_ADD_OPS).
 * -DTFLM_BENCH_EMPTY builds the empty baseline: the same files, no TFLM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "platform.h"
void platform_base_init(void);
}

#ifdef TFLM_BENCH_EMPTY
extern "C" void platform_init(void) { platform_base_init(); }
#else
#include <new>

#include "model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tflm_model.h"
#include "tflm_ops.h"

#ifndef TFLM_ARENA_MAX
#define TFLM_ARENA_MAX kTensorArenaSize
#endif
#define STACK_PAINT 8192u

namespace {
using Resolver = tflite::MicroMutableOpResolver<TFLM_OP_COUNT>;
alignas(16) uint8_t g_arena[TFLM_ARENA_MAX];
alignas(Resolver) uint8_t g_resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) uint8_t g_interpreter_storage[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *g_interpreter = nullptr;
TfLiteTensor *g_input = nullptr;
TfLiteTensor *g_output = nullptr;

/* ---- a line of text without printf (printf would add to both sides of the comparison) --- */
char g_line[120];
uint8_t g_length = 0;

void put(const char *text) {
  while (*text && g_length < sizeof g_line) g_line[g_length++] = *text++;
}

void put_number(uint32_t value) {
  char digits[10];
  uint8_t n = 0;
  do {
    digits[n++] = (char)('0' + value % 10u);
    value /= 10u;
  } while (value);
  while (n && g_length < sizeof g_line) g_line[g_length++] = digits[--n];
}

void end_line() {
  put("\r\n");
  platform_write(g_line, g_length);
  g_length = 0;
}

__attribute__((noreturn)) void fail(const char *what, uint32_t value) {
  put("TFLM ERROR ");
  put(what);
  put_number(value);
  end_line();
  platform_exit(3);
}

/* ---- the arena size this run asks for ------------------------------------------------------ */
#if !defined(__arm__)
/* glibc (and macOS) hand main's arguments to constructors too: the bench reads its command
 * line without owning main(), which is the harness's. */
int g_argc = 0;
char **g_argv = nullptr;

__attribute__((constructor)) void keep_command_line(int argc, char **argv, char **) {
  g_argc = argc;
  g_argv = argv;
}
#endif

uint32_t parse_last_number(const char *text) {
  const char *end = text + strlen(text);
  while (end > text && (end[-1] == ' ' || end[-1] == '\n')) --end;
  const char *start = end;
  while (start > text && start[-1] >= '0' && start[-1] <= '9') --start;
  uint32_t value = 0;
  for (const char *p = start; p < end; ++p) value = value * 10u + (uint32_t)(*p - '0');
  return value;
}

uint32_t requested_arena() {
#if defined(__arm__)
  static char command[96];
  struct {
    char *buffer;
    int length;
  } block = {command, (int)sizeof command - 1};
  register int op __asm__("r0") = 0x15; /* SYS_GET_CMDLINE */
  register void *arg __asm__("r1") = &block;
  __asm__ volatile("bkpt 0xab" : "+r"(op) : "r"(arg) : "memory");
  if (op != 0) return 0;
  command[block.length < (int)sizeof command ? block.length : (int)sizeof command - 1] = 0;
  const char *space = strchr(command, ' ');
  return space ? parse_last_number(space) : 0;
#else
  return g_argc > 1 ? parse_last_number(g_argv[g_argc - 1]) : 0;
#endif
}

/* ---- stack high-water mark, as in harness.c but over a deeper region -------------------- */
inline __attribute__((always_inline)) void paint_stack() {
  volatile uint8_t *top = PLATFORM_STACK_TOP();
  for (volatile uint8_t *p = top - STACK_PAINT; p < top; ++p) *p = 0xA5;
}

inline __attribute__((always_inline)) uint32_t stack_used() {
  volatile uint8_t *top = PLATFORM_STACK_TOP();
  volatile uint8_t *p = top - STACK_PAINT;
  while (p < top && *p == 0xA5) ++p;
  return (uint32_t)(top - p);
}

/* What the sketch's setup() does, with the objects placed in static storage each time. */
__attribute__((noinline)) TfLiteStatus set_up(size_t arena_size) {
  const tflite::Model *model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) return kTfLiteError;
  Resolver *resolver = new (g_resolver_storage) Resolver();
  if (!TFLM_ADD_OPS(resolver)) return kTfLiteError;
  g_interpreter =
      new (g_interpreter_storage) tflite::MicroInterpreter(model, *resolver, g_arena, arena_size);
  return g_interpreter->AllocateTensors();
}
} // namespace

extern "C" void platform_init(void) {
  platform_base_init();
  uint32_t arena_size = requested_arena();
  if (arena_size == 0) arena_size = kTensorArenaSize;
  if (arena_size > sizeof g_arena) fail("arena larger than TFLM_ARENA_MAX: ", arena_size);

  paint_stack();
  TfLiteStatus status = set_up(arena_size);
  uint32_t setup_stack = stack_used();
  if (status != kTfLiteOk) fail("AllocateTensors failed with an arena of ", arena_size);

  /* The same set-up PLATFORM_REPEAT more times, timed: on the M4 one SysTick tick is 40
   * instructions and 40 repeats make one tick one instruction per set-up. */
  platform_timer_start();
  for (uint8_t r = 0; r < PLATFORM_REPEAT; ++r) set_up(arena_size);
  uint32_t setup_cost = platform_timer_stop();

  g_input = g_interpreter->input(0);
  g_output = g_interpreter->output(0);
  paint_stack();
  status = g_interpreter->Invoke();
  uint32_t invoke_stack = stack_used();
  if (status != kTfLiteOk) fail("Invoke failed with an arena of ", arena_size);

  put("TFLM SETUP ");
  put_number(setup_cost);
  put(" STACK ");
  put_number(setup_stack);
  put(" ");
  put_number(invoke_stack);
  put(" ARENA ");
  put_number(arena_size);
  put(" ");
  put_number((uint32_t)g_interpreter->arena_used_bytes());
  end_line();
}

#if TFLM_BENCH_FLOAT
typedef float value_t;
#else
typedef int8_t value_t;
#endif

/* One inference, as the sketch's loop() does it: write the input tensor, Invoke, read. */
extern "C" void tflm_model_invoke(const value_t *input, value_t *output) {
  memcpy(g_input->data.raw, input, g_input->bytes);
  if (g_interpreter->Invoke() != kTfLiteOk) fail("Invoke failed", 0);
  memcpy(output, g_output->data.raw, g_output->bytes);
}
#endif /* TFLM_BENCH_EMPTY */
