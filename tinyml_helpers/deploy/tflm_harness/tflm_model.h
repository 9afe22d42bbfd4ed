/* tflm_model.h: the model call the firmware harness (deploy/harness/harness.c) makes when the
 * model is run by TensorFlow Lite Micro instead of plain C. Part of the TinyML course
 * (tinyml_helpers/deploy/tflm_harness); defined in tflm_bench.cc. */
#ifndef TFLM_MODEL_H
#define TFLM_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if TFLM_BENCH_FLOAT
void tflm_model_invoke(const float *input, float *output);
#else
void tflm_model_invoke(const int8_t *input, int8_t *output);
#endif

#ifdef __cplusplus
}
#endif

#endif /* TFLM_MODEL_H */
