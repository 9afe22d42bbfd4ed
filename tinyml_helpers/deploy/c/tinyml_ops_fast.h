/* tinyml_ops_fast.h: fast int8 kernels for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and the
 * two pools.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/c). Plain C99 over <stdint.h>, no
 * allocation; builds with avr-gcc (Arduino Uno), arm-none-eabi-gcc (Cortex-M) and gcc. The
 * operators of tinyml_ops.h, giving the very same int8 codes (so TFLM's, bit for bit), only
 * faster. They sit apart from the reference kernels as TFLM keeps kernels/cmsis_nn/ apart from
 * its reference kernels: read tinyml_ops.c for what is computed, this file for how to compute
 * it quickly. Softmax and reshape have no fast twin: a model generated with the fast kernels
 * calls the reference ones for them.
 *
 * The kernels take the reference's params structs; the weighted ones take, instead of the bias,
 * one constant per output channel that the model generator (graph_c.py) computes from the bias
 * and the filter:
 *
 *   folded_bias[c] = bias[c] + input_offset * (the sum of filter c's weights)   (mod 2^32)
 *
 * The reference sums bias + w * (x + input_offset) over the taps of the window that lie inside
 * the image. If the taps outside read x = the input zero point (= -input_offset), they add
 * w * 0 and nothing changes; then the offset's share is the same for every window, and
 *
 *   acc = folded_bias[c] + sum over the whole window of w * x
 *
 * where w * x is an int8 x int8 product (one MULS on the AVR, half an SMLAD on a Cortex-M4)
 * instead of the reference's int32 multiply. Integer sums wrap modulo 2^32 whatever their order,
 * so folding and reordering leave every bit of the accumulator as TFLM computes it.
 */
#ifndef TINYML_OPS_FAST_H
#define TINYML_OPS_FAST_H

#include <stdint.h>

#include "tinyml_ops.h" /* the params structs, TINYML_CONST, TINYML_READ_*, tinyml_requantize */

#ifdef __cplusplus
extern "C" {
#endif

/* The convolutions read each window of the input where it lies when they can, and otherwise copy
 * it into scratch first, with the input zero point for the taps outside the image: a CONV_2D
 * copies every window that is not one run of the input (a 1x1 filter, or one row of adjacent
 * taps, over every input channel and inside the image), filter_height * filter_width *
 * filter_input_depth bytes; a DEPTHWISE_CONV_2D copies the windows that leave the image,
 * filter_height * filter_width * input_depth bytes. A layer that never copies (the model
 * generator knows) passes NULL. */
void tinyml_conv_2d_fast(const tinyml_conv_params *params, const int8_t *input_data,
                         const int8_t *filter_data, const int32_t *folded_bias, int8_t *scratch,
                         int8_t *output_data);

void tinyml_depthwise_conv_2d_fast(const tinyml_depthwise_params *params, const int8_t *input_data,
                                   const int8_t *filter_data, const int32_t *folded_bias,
                                   int8_t *scratch, int8_t *output_data);

void tinyml_max_pool_2d_fast(const tinyml_pool_params *params, const int8_t *input_data,
                             int8_t *output_data);

void tinyml_average_pool_2d_fast(const tinyml_pool_params *params, const int8_t *input_data,
                                 int8_t *output_data);

void tinyml_fully_connected_fast(const tinyml_fully_connected_params *params,
                                 const int8_t *input_data, const int8_t *filter_data,
                                 const int32_t *folded_bias, int8_t *output_data);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_OPS_FAST_H */
