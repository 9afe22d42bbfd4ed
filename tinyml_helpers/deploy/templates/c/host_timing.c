{{BANNER}}
/* Times {{PREFIX}}_invoke on this PC: the best of {{REPEATS}} runs of {{LOOPS}} calls over the
 * given inputs, by wall clock. Prints the outputs of the first pass (to check them), then
 * "best_ns <nanoseconds per call>". */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "{{PREFIX}}.h"

#define N_ROWS {{N_ROWS}}
static const {{CTYPE}} kInputs[N_ROWS][{{UP}}_INPUTS] = {{INPUTS}};

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(void) {
  {{CTYPE}} out[{{UP}}_OUTPUTS];
  for (int r = 0; r < N_ROWS; r++) {
    {{PREFIX}}_invoke(kInputs[r], out);
    printf("out");
    for (int o = 0; o < {{UP}}_OUTPUTS; o++) printf(" %.9g", (double)out[o]);
    printf("\n");
  }
  volatile double sink = 0;
  double best = 1e300;
  for (int rep = 0; rep < {{REPEATS}}; rep++) {
    double start = now_ns();
    for (long i = 0; i < {{LOOPS}}; i++) {
      {{PREFIX}}_invoke(kInputs[i % N_ROWS], out);
      sink += out[0];
    }
    double ns = now_ns() - start;
    if (ns < best) best = ns;
  }
  printf("best_ns %.3f\n", best / {{LOOPS}});
  return sink == 0.123 ? 1 : 0;
}
