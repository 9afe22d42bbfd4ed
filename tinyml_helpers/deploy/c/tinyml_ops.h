/* tinyml_ops.h: reference int8 kernels for small convolutional networks.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/c). Plain C99 over <stdint.h>, no
 * allocation: it builds with avr-gcc (Arduino Uno), arm-none-eabi-gcc (Cortex-M) and gcc.
 * Each kernel follows the loops of TensorFlow Lite Micro's reference integer kernels
 * (tensorflow/lite/kernels/internal/reference/integer_ops/ and reference/softmax.h) in the same
 * order and with the same names, so the two can be read side by side; the outputs are the same
 * int8 codes, bit for bit.
 *
 * Every kernel takes a params struct that describes one operator of one model: its shapes
 * (NHWC, batch first), zero-point offsets, per-channel requantization and activation clamp.
 * The generated model keeps these structs, the weights, the biases and the per-channel arrays in
 * constant memory (TINYML_CONST: flash on the Uno), and the kernels read them through
 * TINYML_READ_*, so only the activations take RAM.
 */
#ifndef TINYML_OPS_H
#define TINYML_OPS_H

#include <stdint.h>

#include "tinyml_kernels.h" /* TINYML_CONST, TINYML_READ_I8 / _I32, tinyml_requantize */

#ifdef __cplusplus
extern "C" {
#endif

/* Copy a params struct out of constant memory into a local one (flash needs memcpy_P). */
#if defined(__AVR__)
#define TINYML_READ_PARAMS(dst, src) memcpy_P((dst), (src), sizeof *(dst))
#else
#define TINYML_READ_PARAMS(dst, src) (*(dst) = *(src))
#endif

/* CONV_2D: TFLM's ConvParams plus the shapes. The filter is [output_depth][filter_height]
 * [filter_width][filter_input_depth]; input_depth / filter_input_depth groups of filters. */
typedef struct {
  uint16_t batches;
  uint16_t input_height, input_width, input_depth;
  uint16_t filter_height, filter_width, filter_input_depth;
  uint16_t output_height, output_width, output_depth;
  uint16_t stride_height, stride_width;
  uint16_t dilation_height_factor, dilation_width_factor;
  int16_t padding_height, padding_width; /* padding_values: pixels before the first input */
  int16_t input_offset;                  /* minus the input zero point */
  int16_t output_offset;                 /* the output zero point */
  int8_t quantized_activation_min, quantized_activation_max;
  const int32_t *output_multiplier; /* [output_depth], Q31, in constant memory */
  const int8_t *output_shift;       /* [output_depth], powers of two */
} tinyml_conv_params;

/* DEPTHWISE_CONV_2D: TFLM's DepthwiseParams plus the shapes. The filter is
 * [1][filter_height][filter_width][output_depth]; output channel c * depth_multiplier + m
 * reads input channel c. */
typedef struct {
  uint16_t batches;
  uint16_t input_height, input_width, input_depth;
  uint16_t filter_height, filter_width;
  uint16_t depth_multiplier;
  uint16_t output_height, output_width, output_depth;
  uint16_t stride_height, stride_width;
  uint16_t dilation_height_factor, dilation_width_factor;
  int16_t padding_height, padding_width;
  int16_t input_offset, output_offset;
  int8_t quantized_activation_min, quantized_activation_max;
  const int32_t *output_multiplier;
  const int8_t *output_shift;
} tinyml_depthwise_params;

/* MAX_POOL_2D and AVERAGE_POOL_2D: TFLM's PoolParams plus the shapes (depth is kept). */
typedef struct {
  uint16_t batches;
  uint16_t input_height, input_width, depth;
  uint16_t output_height, output_width;
  uint16_t filter_height, filter_width;
  uint16_t stride_height, stride_width;
  int16_t padding_height, padding_width;
  int8_t quantized_activation_min, quantized_activation_max;
} tinyml_pool_params;

/* FULLY_CONNECTED: TFLM's FullyConnectedParams plus the shapes. The filter is
 * [output_depth][accum_depth]; batches rows of accum_depth inputs each. */
typedef struct {
  uint16_t batches, accum_depth, output_depth;
  int16_t input_offset, output_offset;
  int8_t quantized_activation_min, quantized_activation_max;
  const int32_t *output_multiplier; /* [output_depth] (one value repeated if per tensor) */
  const int8_t *output_shift;
} tinyml_fully_connected_params;

/* SOFTMAX with int8 input and output (scale 1/256, zero point -128) over the last axis:
 * TFLM's SoftmaxParams. input_multiplier * 2^input_left_shift turns a difference of input
 * codes into Q5.26 (beta included); differences below diff_min give probability 0. */
typedef struct {
  uint16_t outer_size, depth;
  int32_t input_multiplier;
  int8_t input_left_shift;
  int32_t diff_min;
} tinyml_softmax_params;

void tinyml_conv_2d(const tinyml_conv_params *params, const int8_t *input_data,
                    const int8_t *filter_data, const int32_t *bias_data, int8_t *output_data);

void tinyml_depthwise_conv_2d(const tinyml_depthwise_params *params, const int8_t *input_data,
                              const int8_t *filter_data, const int32_t *bias_data,
                              int8_t *output_data);

void tinyml_max_pool_2d(const tinyml_pool_params *params, const int8_t *input_data,
                        int8_t *output_data);

/* The average of the window's part inside the image, rounded half away from zero. */
void tinyml_average_pool_2d(const tinyml_pool_params *params, const int8_t *input_data,
                            int8_t *output_data);

void tinyml_fully_connected(const tinyml_fully_connected_params *params, const int8_t *input_data,
                            const int8_t *filter_data, const int32_t *bias_data,
                            int8_t *output_data);

/* gemmlowp's fixed-point exp and reciprocal, as TFLM's reference softmax computes them. */
void tinyml_softmax(const tinyml_softmax_params *params, const int8_t *input_data,
                    int8_t *output_data);

/* RESHAPE and EXPAND_DIMS: the same codes under another shape, copied when they must move. */
void tinyml_reshape(const int8_t *input_data, int8_t *output_data, uint32_t size);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_OPS_H */
