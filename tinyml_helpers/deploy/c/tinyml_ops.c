/* tinyml_ops.c: see tinyml_ops.h. Part of the TinyML course (tinyml_helpers/deploy/c).
 *
 * Reference kernels only: one plain loop nest per operator, in the order of TFLM's reference
 * integer kernels, so a student can put this file next to conv.h, depthwise_conv.h,
 * pooling.h, fully_connected.h and softmax.h and follow them line by line. Nothing here is
 * tuned for speed; integer sums do not depend on their order, so a faster kernel may reorder
 * the loops and still give the same codes.
 */
#include "tinyml_ops.h"

#include <stddef.h>

/* Index of element (i0, i1, i2, i3) in an array of shape [d0][d1][d2][d3] (TFLM's Offset).
 * 32-bit, because a weight array can hold more than the AVR's 16-bit int can count. */
static inline int32_t offset4(int32_t d1, int32_t d2, int32_t d3, int32_t i0, int32_t i1,
                              int32_t i2, int32_t i3) {
  return ((i0 * d1 + i1) * d2 + i2) * d3 + i3;
}

/* Requantize an accumulator for output channel c, add the zero point, clamp. */
static inline int8_t requantize_clamp(int32_t acc, const int32_t *multiplier, const int8_t *shift,
                                      int c, int32_t output_offset, int32_t act_min,
                                      int32_t act_max) {
  acc = tinyml_requantize(acc, TINYML_READ_I32(&multiplier[c]), TINYML_READ_I8(&shift[c]));
  acc += output_offset;
  if (acc < act_min) acc = act_min;
  if (acc > act_max) acc = act_max;
  return (int8_t)acc;
}

/* ---- CONV_2D: reference_integer_ops::ConvPerChannel ---------------------------------------- */

void tinyml_conv_2d(const tinyml_conv_params *params, const int8_t *input_data,
                    const int8_t *filter_data, const int32_t *bias_data, int8_t *output_data) {
  tinyml_conv_params p;
  TINYML_READ_PARAMS(&p, params);
  const int32_t input_offset = p.input_offset; /* r = s(q - Z) */
  const int stride_width = p.stride_width;
  const int stride_height = p.stride_height;
  const int dilation_width_factor = p.dilation_width_factor;
  const int dilation_height_factor = p.dilation_height_factor;
  const int pad_width = p.padding_width;
  const int pad_height = p.padding_height;
  const int32_t output_offset = p.output_offset;
  const int32_t output_activation_min = p.quantized_activation_min;
  const int32_t output_activation_max = p.quantized_activation_max;

  const int batches = p.batches;
  const int input_height = p.input_height;
  const int input_width = p.input_width;
  const int input_depth = p.input_depth;
  const int filter_height = p.filter_height;
  const int filter_width = p.filter_width;
  const int filter_input_depth = p.filter_input_depth;
  const int output_height = p.output_height;
  const int output_width = p.output_width;
  const int output_depth = p.output_depth;
  /* Grouped convolution: each group of filters sees its own slice of the input channels. */
  const int groups = input_depth / filter_input_depth;
  const int filters_per_group = output_depth / groups;

  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      const int in_y_origin = (out_y * stride_height) - pad_height;
      for (int out_x = 0; out_x < output_width; ++out_x) {
        const int in_x_origin = (out_x * stride_width) - pad_width;
        for (int out_channel = 0; out_channel < output_depth; ++out_channel) {
          const int group = out_channel / filters_per_group;
          int32_t acc = 0;
          for (int filter_y = 0; filter_y < filter_height; ++filter_y) {
            const int in_y = in_y_origin + dilation_height_factor * filter_y;
            for (int filter_x = 0; filter_x < filter_width; ++filter_x) {
              const int in_x = in_x_origin + dilation_width_factor * filter_x;
              /* Padding pixels are (q - Z) = 0: skipping them adds exactly nothing. */
              const uint8_t is_point_inside_image =
                  (in_x >= 0) && (in_x < input_width) && (in_y >= 0) && (in_y < input_height);
              if (!is_point_inside_image) continue;
              for (int in_channel = 0; in_channel < filter_input_depth; ++in_channel) {
                const int32_t input_val =
                    input_data[offset4(input_height, input_width, input_depth, batch, in_y, in_x,
                                       in_channel + group * filter_input_depth)];
                const int32_t filter_val = TINYML_READ_I8(
                    &filter_data[offset4(filter_height, filter_width, filter_input_depth,
                                         out_channel, filter_y, filter_x, in_channel)]);
                acc += filter_val * (input_val + input_offset);
              }
            }
          }
          if (bias_data) acc += TINYML_READ_I32(&bias_data[out_channel]);
          output_data[offset4(output_height, output_width, output_depth, batch, out_y, out_x,
                              out_channel)] =
              requantize_clamp(acc, p.output_multiplier, p.output_shift, out_channel, output_offset,
                               output_activation_min, output_activation_max);
        }
      }
    }
  }
}

/* ---- DEPTHWISE_CONV_2D: reference_integer_ops::DepthwiseConvPerChannel --------------------- */

void tinyml_depthwise_conv_2d(const tinyml_depthwise_params *params, const int8_t *input_data,
                              const int8_t *filter_data, const int32_t *bias_data,
                              int8_t *output_data) {
  tinyml_depthwise_params p;
  TINYML_READ_PARAMS(&p, params);
  const int stride_width = p.stride_width;
  const int stride_height = p.stride_height;
  const int dilation_width_factor = p.dilation_width_factor;
  const int dilation_height_factor = p.dilation_height_factor;
  const int pad_width = p.padding_width;
  const int pad_height = p.padding_height;
  const int depth_multiplier = p.depth_multiplier;
  const int32_t input_offset = p.input_offset;
  const int32_t output_offset = p.output_offset;
  const int32_t output_activation_min = p.quantized_activation_min;
  const int32_t output_activation_max = p.quantized_activation_max;

  const int batches = p.batches;
  const int input_height = p.input_height;
  const int input_width = p.input_width;
  const int input_depth = p.input_depth;
  const int filter_height = p.filter_height;
  const int filter_width = p.filter_width;
  const int output_height = p.output_height;
  const int output_width = p.output_width;
  const int output_depth = p.output_depth;

  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      for (int out_x = 0; out_x < output_width; ++out_x) {
        for (int in_channel = 0; in_channel < input_depth; ++in_channel) {
          for (int m = 0; m < depth_multiplier; ++m) {
            const int output_channel = m + in_channel * depth_multiplier;
            const int in_x_origin = (out_x * stride_width) - pad_width;
            const int in_y_origin = (out_y * stride_height) - pad_height;
            int32_t acc = 0;
            for (int filter_y = 0; filter_y < filter_height; ++filter_y) {
              for (int filter_x = 0; filter_x < filter_width; ++filter_x) {
                const int in_x = in_x_origin + dilation_width_factor * filter_x;
                const int in_y = in_y_origin + dilation_height_factor * filter_y;
                const uint8_t is_point_inside_image =
                    (in_x >= 0) && (in_x < input_width) && (in_y >= 0) && (in_y < input_height);
                if (is_point_inside_image) {
                  const int32_t input_val = input_data[offset4(
                      input_height, input_width, input_depth, batch, in_y, in_x, in_channel)];
                  const int32_t filter_val =
                      TINYML_READ_I8(&filter_data[offset4(filter_height, filter_width, output_depth,
                                                          0, filter_y, filter_x, output_channel)]);
                  acc += filter_val * (input_val + input_offset);
                }
              }
            }
            if (bias_data) acc += TINYML_READ_I32(&bias_data[output_channel]);
            output_data[offset4(output_height, output_width, output_depth, batch, out_y, out_x,
                                output_channel)] =
                requantize_clamp(acc, p.output_multiplier, p.output_shift, output_channel,
                                 output_offset, output_activation_min, output_activation_max);
          }
        }
      }
    }
  }
}

/* ---- pooling: reference_integer_ops::MaxPool and AveragePool -------------------------------- */

static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline int min_int(int a, int b) { return a < b ? a : b; }

void tinyml_max_pool_2d(const tinyml_pool_params *params, const int8_t *input_data,
                        int8_t *output_data) {
  tinyml_pool_params p;
  TINYML_READ_PARAMS(&p, params);
  const int batches = p.batches;
  const int depth = p.depth;
  const int input_height = p.input_height;
  const int input_width = p.input_width;
  const int output_height = p.output_height;
  const int output_width = p.output_width;
  const int stride_height = p.stride_height;
  const int stride_width = p.stride_width;
  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      for (int out_x = 0; out_x < output_width; ++out_x) {
        for (int channel = 0; channel < depth; ++channel) {
          const int in_x_origin = (out_x * stride_width) - p.padding_width;
          const int in_y_origin = (out_y * stride_height) - p.padding_height;
          /* The part of the filter window that lies inside the image. */
          const int filter_x_start = max_int(0, -in_x_origin);
          const int filter_x_end = min_int(p.filter_width, input_width - in_x_origin);
          const int filter_y_start = max_int(0, -in_y_origin);
          const int filter_y_end = min_int(p.filter_height, input_height - in_y_origin);
          int8_t max = INT8_MIN;
          for (int filter_y = filter_y_start; filter_y < filter_y_end; ++filter_y) {
            for (int filter_x = filter_x_start; filter_x < filter_x_end; ++filter_x) {
              const int in_x = in_x_origin + filter_x;
              const int in_y = in_y_origin + filter_y;
              const int8_t value =
                  input_data[offset4(input_height, input_width, depth, batch, in_y, in_x, channel)];
              if (value > max) max = value;
            }
          }
          if (max < p.quantized_activation_min) max = p.quantized_activation_min;
          if (max > p.quantized_activation_max) max = p.quantized_activation_max;
          output_data[offset4(output_height, output_width, depth, batch, out_y, out_x, channel)] =
              max;
        }
      }
    }
  }
}

void tinyml_average_pool_2d(const tinyml_pool_params *params, const int8_t *input_data,
                            int8_t *output_data) {
  tinyml_pool_params p;
  TINYML_READ_PARAMS(&p, params);
  const int batches = p.batches;
  const int depth = p.depth;
  const int input_height = p.input_height;
  const int input_width = p.input_width;
  const int output_height = p.output_height;
  const int output_width = p.output_width;
  const int stride_height = p.stride_height;
  const int stride_width = p.stride_width;
  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      for (int out_x = 0; out_x < output_width; ++out_x) {
        for (int channel = 0; channel < depth; ++channel) {
          const int in_x_origin = (out_x * stride_width) - p.padding_width;
          const int in_y_origin = (out_y * stride_height) - p.padding_height;
          const int filter_x_start = max_int(0, -in_x_origin);
          const int filter_x_end = min_int(p.filter_width, input_width - in_x_origin);
          const int filter_y_start = max_int(0, -in_y_origin);
          const int filter_y_end = min_int(p.filter_height, input_height - in_y_origin);
          int32_t acc = 0;
          int filter_count = 0; /* padding is not counted: the average of what is inside */
          for (int filter_y = filter_y_start; filter_y < filter_y_end; ++filter_y) {
            for (int filter_x = filter_x_start; filter_x < filter_x_end; ++filter_x) {
              const int in_x = in_x_origin + filter_x;
              const int in_y = in_y_origin + filter_y;
              acc +=
                  input_data[offset4(input_height, input_width, depth, batch, in_y, in_x, channel)];
              filter_count++;
            }
          }
          /* The graph writer guarantees every window overlaps the image (filter_count > 0).
           * Round half away from zero with C's truncating division, as TFLM does. */
          acc = acc > 0 ? (acc + filter_count / 2) / filter_count
                        : (acc - filter_count / 2) / filter_count;
          if (acc < p.quantized_activation_min) acc = p.quantized_activation_min;
          if (acc > p.quantized_activation_max) acc = p.quantized_activation_max;
          output_data[offset4(output_height, output_width, depth, batch, out_y, out_x, channel)] =
              (int8_t)acc;
        }
      }
    }
  }
}

/* ---- FULLY_CONNECTED: reference_integer_ops::FullyConnectedPerChannel ---------------------- */

void tinyml_fully_connected(const tinyml_fully_connected_params *params, const int8_t *input_data,
                            const int8_t *filter_data, const int32_t *bias_data,
                            int8_t *output_data) {
  tinyml_fully_connected_params p;
  TINYML_READ_PARAMS(&p, params);
  const int32_t input_offset = p.input_offset;
  const int32_t output_offset = p.output_offset;
  const int32_t output_activation_min = p.quantized_activation_min;
  const int32_t output_activation_max = p.quantized_activation_max;
  const int batches = p.batches;
  const int output_depth = p.output_depth;
  const int accum_depth = p.accum_depth;
  for (int b = 0; b < batches; ++b) {
    for (int out_c = 0; out_c < output_depth; ++out_c) {
      int32_t acc = 0;
      for (int d = 0; d < accum_depth; ++d) {
        const int32_t input_val = input_data[(int32_t)b * accum_depth + d];
        const int32_t filter_val = TINYML_READ_I8(&filter_data[(int32_t)out_c * accum_depth + d]);
        acc += filter_val * (input_val + input_offset);
      }
      if (bias_data) acc += TINYML_READ_I32(&bias_data[out_c]);
      output_data[(int32_t)b * output_depth + out_c] =
          requantize_clamp(acc, p.output_multiplier, p.output_shift, out_c, output_offset,
                           output_activation_min, output_activation_max);
    }
  }
}

/* ---- SOFTMAX: reference_ops::Softmax for int8, with gemmlowp's fixed point spelled out ----
 *
 * A FixedPoint<int32_t, I> of gemmlowp is an int32 "raw" value meaning raw / 2^(31 - I): I
 * integer bits. Here: Q5.26 scaled differences (I = 5), Q0.31 exponentials (I = 0), a Q12.19
 * sum (I = 12) and Q2.29 Newton-Raphson iterates (I = 2). Multiplying two of them adds their
 * integer bits; the raw product is SaturatingRoundingDoublingHighMul. */

/* gemmlowp's SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties upward. Its nudge
 * (2^30, or 1 - 2^30 for a negative product) then truncation equals this floor. */
static int32_t high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX; /* the one product that overflows */
  return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero, exponent < 32. */
static int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const uint32_t mask = ((uint32_t)1 << exponent) - 1u;
  const uint32_t remainder = (uint32_t)x & mask;
  const uint32_t threshold = (mask >> 1) + (x < 0 ? 1u : 0u);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent: x * 2^exponent, saturated
 * to the int32 range. */
static int32_t shift_left_saturating(int32_t x, int exponent) {
  const int32_t limit = (int32_t)((((uint32_t)1) << (31 - exponent)) - 1u);
  if (x > limit) return INT32_MAX;
  if (x < -limit) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for Q0.31 a in [-1/4, 0): gemmlowp's exp_on_interval_between_negative_one_quarter_and_0
 * _excl, a Taylor series around -1/8 up to x^4. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;    /* exp(-1/8) in Q0.31 */
  const int32_t constant_1_over_3 = 715827883; /* 1/3 in Q0.31 */
  const int32_t x = a + ((int32_t)1 << 28);    /* a + 1/8 */
  const int32_t x2 = high_mul(x, x);
  const int32_t x3 = high_mul(x2, x);
  const int32_t x4 = high_mul(x2, x2);
  const int32_t x4_over_4 = rounding_divide_by_pot(x4, 2);
  const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 =
      rounding_divide_by_pot(high_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
  return constant_term + high_mul(constant_term, x + x4_over_24_plus_x3_over_6_plus_x2_over_2);
}

/* exp(a) in Q0.31 for a Q5.26 a <= 0: gemmlowp's exp_on_negative_values. The part of a below
 * 1/4 goes through the series; each whole bit of -a above it multiplies by a constant. */
static int32_t exp_on_negative_values(int32_t a) {
  /* exp(-2^k) in Q0.31, for the bits k = -2 .. 4 of -a (bit 26 + k of the Q5.26 raw value) */
  static const int32_t exp_of_minus_power_of_two[7] TINYML_CONST = {
      1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int32_t one_quarter = (int32_t)1 << 24; /* 1/4 in Q5.26 */
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
  /* Rescale Q5.26 -> Q0.31: multiply the raw value by 2^5. */
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      shift_left_saturating(a_mod_quarter_minus_one_quarter, 5));
  const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
  for (int k = 0; k < 7; ++k) {
    if (remainder & ((int32_t)1 << (24 + k)))
      result = high_mul(result, TINYML_READ_I32(&exp_of_minus_power_of_two[k]));
  }
  return a == 0 ? INT32_MAX : result; /* exp(0) = 1, the largest Q0.31 value */
}

/* 1 / (1 + a) in Q0.31 for a Q0.31 a in [0, 1): gemmlowp's one_over_one_plus_x_for_x_in_0_1,
 * three Newton-Raphson steps from 48/17 - 32/17 * d, d = (1 + a) / 2 in [1/2, 1). */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  /* RoundingHalfSum(a, 1): both >= 0, so (a + 1 + 1) / 2 without overflow in 64 bits */
  const int32_t half_denominator = (int32_t)(((int64_t)a + INT32_MAX + 1) / 2);
  const int32_t constant_48_over_17 = 1515870810;      /* Q2.29 */
  const int32_t constant_neg_32_over_17 = -1010580540; /* Q2.29 */
  int32_t x = constant_48_over_17 + high_mul(half_denominator, constant_neg_32_over_17);
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = high_mul(half_denominator, x);
    const int32_t one_minus_half_denominator_times_x =
        ((int32_t)1 << 29) - half_denominator_times_x; /* 1 - d x in Q2.29 */
    /* x * (1 - d x) is Q4.27; back to Q2.29 is a saturating shift by 2 */
    x = x + shift_left_saturating(high_mul(x, one_minus_half_denominator_times_x), 2);
  }
  /* x / 2 as Q1.30 is x itself; back to Q0.31 shifts by 1 */
  return shift_left_saturating(x, 1);
}

static int count_leading_zeros(uint32_t x) {
  int n = 0;
  while (n < 32 && !(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

void tinyml_softmax(const tinyml_softmax_params *params, const int8_t *input_data,
                    int8_t *output_data) {
  tinyml_softmax_params p;
  TINYML_READ_PARAMS(&p, params);
  const int32_t input_beta_multiplier = p.input_multiplier;
  const int32_t input_beta_left_shift = p.input_left_shift;
  const int32_t diff_min = p.diff_min;
  const int kAccumulationIntegerBits = 12; /* room for the sum of up to 4096 exponentials */
  const int outer_size = p.outer_size;
  const int depth = p.depth;

  for (int i = 0; i < outer_size; ++i) {
    const int8_t *input = &input_data[(int32_t)i * depth];
    int8_t *output = &output_data[(int32_t)i * depth];
    int8_t max_in_row = INT8_MIN;
    for (int c = 0; c < depth; ++c) {
      if (input[c] > max_in_row) max_in_row = input[c];
    }

    /* Sum of exp(beta * scale * (x - max)) in Q12.19. */
    int32_t sum_of_exps = 0;
    for (int c = 0; c < depth; ++c) {
      const int32_t input_diff = (int32_t)input[c] - max_in_row;
      if (input_diff >= diff_min) {
        /* MultiplyByQuantizedMultiplierGreaterThanOne: left shift, then the high multiply */
        const int32_t input_diff_rescaled =
            tinyml_requantize(input_diff, input_beta_multiplier, (int8_t)input_beta_left_shift);
        /* Rescale<12>: Q0.31 -> Q12.19 */
        sum_of_exps += rounding_divide_by_pot(exp_on_negative_values(input_diff_rescaled),
                                              kAccumulationIntegerBits);
      }
    }

    /* GetReciprocal: sum = 2^num_bits_over_unit * (1 + shifted), then 1 / (1 + shifted). */
    const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
    const int32_t shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);

    for (int c = 0; c < depth; ++c) {
      const int32_t input_diff = (int32_t)input[c] - max_in_row;
      if (input_diff >= diff_min) {
        const int32_t input_diff_rescaled =
            tinyml_requantize(input_diff, input_beta_multiplier, (int8_t)input_beta_left_shift);
        const int32_t exp_in_0 = exp_on_negative_values(input_diff_rescaled);
        /* exp / sum as a multiple of 1/256, then shifted to the int8 range (zero point -128) */
        const int32_t unsat_output =
            rounding_divide_by_pot(high_mul(shifted_scale, exp_in_0), num_bits_over_unit + 31 - 8);
        int32_t shifted_output = unsat_output + INT8_MIN;
        if (shifted_output < INT8_MIN) shifted_output = INT8_MIN;
        if (shifted_output > INT8_MAX) shifted_output = INT8_MAX;
        output[c] = (int8_t)shifted_output;
      } else {
        output[c] = INT8_MIN;
      }
    }
  }
}

/* ---- RESHAPE and EXPAND_DIMS --------------------------------------------------------------- */

void tinyml_reshape(const int8_t *input_data, int8_t *output_data, uint32_t size) {
  if (input_data == output_data) return;
  for (uint32_t i = 0; i < size; ++i) output_data[i] = input_data[i];
}
