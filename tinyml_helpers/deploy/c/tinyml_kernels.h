/* tinyml_kernels.h: library-free dense-layer inference in float and int8.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/c). Plain C99, no allocation, no libraries:
 * it builds with avr-gcc for an Arduino Uno, arm-none-eabi-gcc for a Cortex-M, gcc on a PC.
 * The int8 kernel reproduces TensorFlow Lite Micro's FULLY_CONNECTED arithmetic bit for bit.
 */
#ifndef TINYML_KERNELS_H
#define TINYML_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* On AVR, constants live in flash only if marked PROGMEM and read with pgm_read_*;
 * everywhere else a const array already stays in flash and is read directly. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define TINYML_CONST PROGMEM
#define TINYML_READ_I8(p) ((int8_t)pgm_read_byte(p))
#define TINYML_READ_I32(p) ((int32_t)pgm_read_dword(p))
#define TINYML_READ_F32(p) pgm_read_float(p)
#else
#define TINYML_CONST
#define TINYML_READ_I8(p) (*(p))
#define TINYML_READ_I32(p) (*(p))
#define TINYML_READ_F32(p) (*(p))
#endif

/* One float dense layer: out = act(W x + b), W stored row by row as [n_out][n_in]. */
void tinyml_dense_float(const float *input, float *output, uint16_t n_in, uint16_t n_out,
                        const float *weights, const float *bias, uint8_t relu);

/* Scale an int32 accumulator by multiplier * 2^shift (multiplier a Q31 number in
 * [0.5, 1), or 0; never negative), rounding exactly as TFLite Micro's
 * MultiplyByQuantizedMultiplier does. */
int32_t tinyml_requantize(int32_t acc, int32_t multiplier, int8_t shift);

/* One int8 dense layer with per-output-channel requantization:
 * out[o] = clamp(requantize(sum_i (in[i] + input_offset) * W[o][i] + bias[o]) + output_zp).
 * Bit for bit TFLM's FULLY_CONNECTED. Inputs at the zero point are skipped, and so is the
 * requantization of ReLU outputs whose sum is <= 0 and whose shift is <= 0 (they are act_min
 * either way; after a left shift TFLM's int32 product can wrap, so those are requantized). */
void tinyml_dense_int8(const int8_t *input, int8_t *output, uint16_t n_in, uint16_t n_out,
                       const int8_t *weights, const int32_t *bias, const int32_t *multiplier,
                       const int8_t *shift, int16_t input_offset, int16_t output_zero_point,
                       int8_t act_min, int8_t act_max);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_KERNELS_H */
