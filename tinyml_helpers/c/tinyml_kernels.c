/* tinyml_kernels.c: see tinyml_kernels.h. Part of the TinyML course (tinyml_helpers/c). */
#include "tinyml_kernels.h"

void tinyml_dense_float(const float *input, float *output, uint16_t n_in, uint16_t n_out,
                        const float *weights, const float *bias, uint8_t relu) {
  for (uint16_t o = 0; o < n_out; ++o) {
    /* A dot product of the input vector with row o of W, then the bias add. */
    float acc = TINYML_READ_F32(&bias[o]);
    const float *row = &weights[(uint32_t)o * n_in];
    for (uint16_t i = 0; i < n_in; ++i) {
      acc += input[i] * TINYML_READ_F32(&row[i]);
    }
    output[o] = (relu && acc < 0.0f) ? 0.0f : acc; /* ReLU: max(0, acc) */
  }
}

/* (a * b * 2) / 2^32 rounded to nearest, saturating the one overflowing case:
 * gemmlowp's SaturatingRoundingDoublingHighMul. */
static int32_t doubling_high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  int64_t ab = (int64_t)a * (int64_t)b;
  int32_t nudge = ab >= 0 ? (1L << 30) : (1 - (1L << 30));
  return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero: gemmlowp's RoundingDivideByPOT. */
static int32_t divide_by_power_of_two(int32_t x, int8_t exponent) {
  int32_t mask = (int32_t)((1UL << exponent) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tinyml_requantize(int32_t acc, int32_t multiplier, int8_t shift) {
  int8_t left = shift > 0 ? shift : 0;
  int8_t right = shift > 0 ? 0 : -shift;
  return divide_by_power_of_two(doubling_high_mul(acc * (1L << left), multiplier), right);
}

void tinyml_dense_int8(const int8_t *input, int8_t *output, uint16_t n_in, uint16_t n_out,
                       const int8_t *weights, const int32_t *bias, const int32_t *multiplier,
                       const int8_t *shift, int16_t input_offset, int16_t output_zero_point,
                       int8_t act_min, int8_t act_max) {
  for (uint16_t o = 0; o < n_out; ++o) {
    int32_t acc = bias ? TINYML_READ_I32(&bias[o]) : 0;
    const int8_t *row = &weights[(uint32_t)o * n_in];
    for (uint16_t i = 0; i < n_in; ++i) {
      acc += (int32_t)(input[i] + input_offset) * TINYML_READ_I8(&row[i]);
    }
    int32_t y = tinyml_requantize(acc, TINYML_READ_I32(&multiplier[o]),
                                  TINYML_READ_I8(&shift[o])) + output_zero_point;
    if (y < act_min) y = act_min; /* the fused ReLU is this clamp at the zero point */
    if (y > act_max) y = act_max;
    output[o] = (int8_t)y;
  }
}
