/* tinyml_kernels.c: see tinyml_kernels.h. Part of the TinyML course (tinyml_helpers/deploy/c).
 *
 * How to read this file:
 *
 *   Part 1, the reference: plain C, one loop per layer, exactly the arithmetic of TensorFlow
 *           Lite Micro's FULLY_CONNECTED kernel. Read this part; it is the whole algorithm.
 *   Part 2, the fast paths: the same layer, computing the very same bits, only faster. Each
 *           one is chosen by the compiler's own feature macros:
 *             2a. plain C that skips inputs at the zero point (every other target);
 *             2b. Cortex-M4/M7 with the DSP extension's dual 16-bit multiply-accumulate SMLAD
 *                 (__ARM_FEATURE_DSP);
 *             2c. AVR (Arduino Uno): float layers skip zero inputs (__AVR__), and on an
 *                 ATmega with a hardware multiplier (__AVR_HAVE_MUL__) the int8 layer and the
 *                 requantization's multiply are written in assembly.
 *   Part 3, the entry points: which path runs, on which target.
 *
 * The fast paths rest on two observations, true on every target:
 *  - after a ReLU most activations sit at the zero point, so (x + offset) is 0 and adds
 *    nothing: the non-zero inputs are gathered once per layer and each row multiplies only them;
 *  - requantization is monotonic and maps 0 to 0, so a ReLU output whose accumulator is <= 0 is
 *    the zero point without requantizing (the reference uses this one too: it costs nothing)...
 *    except after a left shift: TFLM multiplies the accumulator by 2^shift in int32 first, and
 *    a large negative one wraps to a positive product. That happens when calibration gives a
 *    layer a near-zero output scale (a ReLU that was never on): TFLM answers 127 there, not
 *    the zero point. So the shortcut is taken only when the shift is <= 0 (relu_shortcut).
 */
#include "tinyml_kernels.h"

#include <stddef.h>

#if defined(__AVR__) && defined(__AVR_HAVE_MUL__)
#define TINYML_AVR 1 /* Part 2c: int8 layer and requantization multiply in AVR assembly */
#elif defined(__ARM_FEATURE_DSP)
#define TINYML_DSP 1 /* Part 2b: SMLAD loops */
#include <arm_acle.h>
#include <string.h>
#endif

#ifndef TINYML_GATHER_MAX
#define TINYML_GATHER_MAX 16 /* (Parts 2a and 2b) layers with up to this many inputs gather */
#endif

/* Each layer path below is a function of its own, for reading; TINYML_LAYER puts them all back
 * into the entry points of Part 3, so the compiler sees one function per layer, as if written
 * in one piece (and link-time optimization can still fold a layer into the model's invoke()
 * when its sizes are constants). */
#define TINYML_LAYER static inline __attribute__((always_inline))

#if TINYML_AVR
/* floor((a * m + 2^30) / 2^31) for m >= 0, in assembly (Part 2c): avr-gcc would otherwise call
 * its large and slow 64-bit multiply. */
int32_t tinyml_avr_high_mul(int32_t a, int32_t m);
#endif

/* ============================================================================================
 * Part 1. The reference: what TFLM computes
 * ============================================================================================
 */

/* ---- float dense layer ---------------------------------------------------------------------
 * out[o] = act(sum_i W[o][i] * in[i] + bias[o]), act = ReLU or nothing. TFLM adds the bias
 * after the sum, this loop starts from it: float rounding can differ in the last bits, which
 * is why float outputs are compared with a tolerance (and int8 codes exactly). */
TINYML_LAYER void dense_float_reference(const float *input, float *output, uint16_t n_in,
                                        uint16_t n_out, const float *weights, const float *bias,
                                        uint8_t relu) {
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

/* ---- requantization: TFLM's MultiplyByQuantizedMultiplier ----------------------------------
 * A real scale s = in_scale * w_scale / out_scale is stored as multiplier * 2^shift with the
 * multiplier a Q31 number in [0.5, 1). Scaling an int32 accumulator by it uses only integers:
 * multiply by 2^shift if shift > 0, take the rounded high half of the product with the
 * multiplier, divide by 2^-shift (rounded) if shift < 0. */

/* floor((a * m + 2^30) / 2^31): gemmlowp's SaturatingRoundingDoublingHighMul. Its nudge
 * (2^30 for a positive product, 1 - 2^30 for a negative one, then truncation toward zero)
 * rounds every tie upward, which is this floor. */
static inline int32_t doubling_high_mul(int32_t a, int32_t m) {
#if !TINYML_AVR
  if (a == INT32_MIN && m == INT32_MIN) {
    return INT32_MAX; /* the one product that overflows */
  }
  return (int32_t)(((int64_t)a * m + (1L << 30)) >> 31);
#else
  return tinyml_avr_high_mul(a, m); /* m is never negative: a Q31 number in [0.5, 1) or 0 */
#endif
}

static inline int32_t requantize(int32_t acc, int32_t multiplier, int8_t shift) {
  if (shift > 0) acc = (int32_t)((uint32_t)acc << shift); /* wraps like TFLM's int32 multiply */
  int32_t t = doubling_high_mul(acc, multiplier);
  if (shift >= 0) return t;
  /* t / 2^right rounded half away from zero (gemmlowp's RoundingDivideByPOT), which is
   * floor((t + 2^(right-1) - [t < 0]) / 2^right): done as two shifts, so no 2^(right-1) has
   * to be built, using floor((floor(v / 2^(right-1)) + 1) / 2) with v = t - [t < 0]. */
  uint8_t right = (uint8_t)-shift;
  if (t < 0) t -= 1;
  return ((t >> (right - 1)) + 1) >> 1;
}

/* Requantize, add the zero point, clamp (the fused ReLU is this clamp at the zero point). */
static inline int8_t finish(int32_t acc, int32_t multiplier, int8_t shift,
                            int16_t output_zero_point, int8_t act_min, int8_t act_max) {
  int32_t y = requantize(acc, multiplier, shift) + output_zero_point;
  if (y < act_min) y = act_min;
  if (y > act_max) y = act_max;
  return (int8_t)y;
}

/* May output o skip requantizing? acc <= 0 gives y <= 0, so when the clamp's floor is at or
 * above the zero point (relu: a ReLU) the output is act_min; but only if the shift is not a
 * left shift, which can wrap acc to a positive value as in TFLM (see the top of this file).
 * The shift is read only for an accumulator <= 0: other rows pay nothing for the check. */
static inline uint8_t relu_shortcut(uint8_t relu, int32_t acc, const int8_t *shift, uint16_t o) {
  return relu && acc <= 0 && TINYML_READ_I8(&shift[o]) <= 0;
}

/* ---- int8 dense layer ---------------------------------------------------------------------- */

/* acc + sum_i (input[i] + offset) * row[i], over every input. */
static int32_t dot_reference(int32_t acc, const int8_t *input, const int8_t *row, uint16_t n_in,
                             int16_t input_offset) {
  for (uint16_t i = 0; i < n_in; ++i) {
    acc += (int32_t)(input[i] + input_offset) * TINYML_READ_I8(&row[i]);
  }
  return acc;
}

/* TFLM's FULLY_CONNECTED with int8 inputs and weights, int32 bias, per-channel scales:
 *   acc    = bias[o] + sum_i (in[i] + input_offset) * W[o][i]
 *   out[o] = clamp(requantize(acc, multiplier[o], shift[o]) + output_zero_point,
 *                  act_min, act_max)
 * with input_offset = -(input zero point); int8 weights are symmetric (zero point 0). An
 * integer sum does not depend on its order, so starting from the bias gives the same bits as
 * TFLM adding it last. The fused activation is the clamp: a ReLU has act_min = the output zero
 * point, no activation has act_min = -128. */
TINYML_LAYER void dense_int8_reference(const int8_t *input, int8_t *output, uint16_t n_in,
                                       uint16_t n_out, const int8_t *weights, const int32_t *bias,
                                       const int32_t *multiplier, const int8_t *shift,
                                       int16_t input_offset, int16_t output_zero_point,
                                       int8_t act_min, int8_t act_max) {
  /* A ReLU output whose acc is <= 0 is act_min without requantizing, unless the shift is a
   * left shift (relu_shortcut). */
  uint8_t relu = act_min >= output_zero_point;
  const int8_t *row = weights;
  for (uint16_t o = 0; o < n_out; ++o, row += n_in) {
    int32_t acc =
        dot_reference(bias ? TINYML_READ_I32(&bias[o]) : 0, input, row, n_in, input_offset);
    output[o] = relu_shortcut(relu, acc, shift, o)
                    ? act_min
                    : finish(acc, TINYML_READ_I32(&multiplier[o]), TINYML_READ_I8(&shift[o]),
                             output_zero_point, act_min, act_max);
  }
}

/* ============================================================================================
 * Part 2. The fast paths: the same bits as Part 1, faster
 * ============================================================================================
 * Each computes a whole layer; Part 3 calls it only for the layers it handles, the others
 * take the reference (or, on a DSP, its SMLAD twin). x = input + offset lies in [0, 255] when
 * the zero point is -128 (the input of every layer after a ReLU) and in [-128, 127] when it
 * is 0: one byte each, which the gathered loops need. Other zero points and wide layers (the
 * AVR assembly takes up to 127 inputs, the C and SMLAD loops TINYML_GATHER_MAX) take the
 * plain loops.
 */

#if !TINYML_AVR && !TINYML_DSP
/* ---- 2a. Plain C: gather the inputs that are not at the zero point ------------------------ */

/* The gathered inputs: x_k = input[i_k] + offset, all non-zero, each fitting one byte. */
typedef struct {
  uint8_t count;
  uint8_t pairs[2 * TINYML_GATHER_MAX + 1]; /* x_0, i_0, x_1, i_1, ..., 0: x = 0 ends it */
} gathered_t;

static void gather(gathered_t *g, const int8_t *input, uint8_t n_in, int16_t input_offset) {
  uint8_t count = 0;
  uint8_t *p = g->pairs;
  for (uint8_t i = 0; i < n_in; ++i) {
    uint8_t v = (uint8_t)(input[i] + input_offset); /* offset 128 flips the sign bit */
    if (v) {
      *p++ = v;
      *p++ = i;
      ++count;
    }
  }
  *p = 0;
  g->count = count;
}

/* The reference loop over the gathered inputs only. Needs n_in <= TINYML_GATHER_MAX and an
 * input offset of 128 or 0. */
TINYML_LAYER void dense_int8_gathered(const int8_t *input, int8_t *output, uint16_t n_in,
                                      uint16_t n_out, const int8_t *weights, const int32_t *bias,
                                      const int32_t *multiplier, const int8_t *shift,
                                      int16_t input_offset, int16_t output_zero_point,
                                      int8_t act_min, int8_t act_max) {
  uint8_t relu = act_min >= output_zero_point;
  uint8_t is_signed = input_offset == 0;
  gathered_t g;
  gather(&g, input, (uint8_t)n_in, input_offset);
  const int8_t *row = weights;
  for (uint16_t o = 0; o < n_out; ++o, row += n_in) {
    int32_t acc = bias ? TINYML_READ_I32(&bias[o]) : 0;
    for (const uint8_t *p = g.pairs; *p; p += 2) {
      int16_t x = is_signed ? (int16_t)(int8_t)p[0] : (int16_t)p[0];
      acc += x * TINYML_READ_I8(&row[p[1]]);
    }
    output[o] = relu_shortcut(relu, acc, shift, o)
                    ? act_min
                    : finish(acc, TINYML_READ_I32(&multiplier[o]), TINYML_READ_I8(&shift[o]),
                             output_zero_point, act_min, act_max);
  }
}
#endif /* !TINYML_AVR && !TINYML_DSP */

#if TINYML_DSP
/* ---- 2b. Cortex-M4/M7 DSP extension: SMLAD ------------------------------------------------ */

/* The gathered inputs, laid out for SMLAD: x_k = input[i_k] + offset, all non-zero. */
typedef struct {
  uint8_t count;
  int16_t x[TINYML_GATHER_MAX + 2] __attribute__((aligned(4))); /* read two per word */
  uint8_t i[TINYML_GATHER_MAX + 2] __attribute__((aligned(2))); /* read two per halfword */
} dsp_gathered_t;

static void dsp_gather(dsp_gathered_t *g, const int8_t *input, uint8_t n_in, int16_t input_offset) {
  uint8_t count = 0;
  for (uint8_t i = 0; i < n_in; ++i) {
    int16_t v = (int16_t)(input[i] + input_offset);
    if (v) {
      g->x[count] = v;
      g->i[count++] = i;
    }
  }
  g->x[count] = 0; /* an odd count pads its last pair with (0, 0), which adds nothing */
  g->i[count] = 0;
  g->i[count + 1] = 0;
  g->count = count;
}

/* lo and hi as the two 16-bit halves of a word (PKHBT, one instruction). */
static inline uint32_t pack_halves(int32_t lo, int32_t hi) {
  uint32_t packed;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(packed) : "r"(lo), "r"(hi));
  return packed;
}

/* (v >> 8) | (v << 24): lines bytes 1 and 3 up for SXTB16 */
static inline uint32_t ror8(uint32_t v) { return (v >> 8) | (v << 24); }

/* The gathered inputs, two rows at a time. Needs n_in <= TINYML_GATHER_MAX and an input
 * offset of 128 or 0. */
TINYML_LAYER void dsp_dense_int8_gathered(const int8_t *input, int8_t *output, uint16_t n_in,
                                          uint16_t n_out, const int8_t *weights,
                                          const int32_t *bias, const int32_t *multiplier,
                                          const int8_t *shift, int16_t input_offset,
                                          int16_t output_zero_point, int8_t act_min,
                                          int8_t act_max) {
  uint8_t relu = act_min >= output_zero_point;
  dsp_gathered_t g;
  dsp_gather(&g, input, (uint8_t)n_in, input_offset);
  uint8_t words = (uint8_t)((g.count + 1u) >> 1);
  const int8_t *row = weights;
  for (uint16_t o = 0; o < n_out; o += 2, row += 2 * n_in) {
    /* Two rows at a time share each load of two x (one word) and of their two positions
     * (one halfword); an odd last row is computed twice. */
    uint8_t both = o + 1u < n_out;
    const int8_t *row_b = both ? row + n_in : row;
    int32_t a = bias ? bias[o] : 0;
    int32_t b = bias ? bias[o + both] : 0;
    const int16_t *x = g.x;
    const uint8_t *at = g.i;
    for (uint8_t k = words; k; --k, x += 2, at += 2) {
      uint32_t x2;
      uint16_t i01;
      memcpy(&x2, x, 4); /* x[0] in the low half, x[1] in the high half */
      memcpy(&i01, at, 2);
      uint32_t i0 = i01 & 0xFFu, i1 = (uint32_t)i01 >> 8;
      a = __smlad(x2, pack_halves(row[i0], row[i1]), a);
      b = __smlad(x2, pack_halves(row_b[i0], row_b[i1]), b);
    }
    output[o] = relu_shortcut(relu, a, shift, o)
                    ? act_min
                    : finish(a, multiplier[o], shift[o], output_zero_point, act_min, act_max);
    if (both) {
      output[o + 1] =
          relu_shortcut(relu, b, shift, o + 1)
              ? act_min
              : finish(b, multiplier[o + 1], shift[o + 1], output_zero_point, act_min, act_max);
    }
  }
}

/* dot_reference, four inputs at a time: SXTB16 sign-extends bytes 0 and 2 (or, rotated, 1
 * and 3) to 16 bits, SADD16 adds the offset to both halves, SMLAD multiplies both pairs and
 * adds. */
static int32_t dsp_dot(int32_t acc, const int8_t *input, const int8_t *row, uint16_t n_in,
                       int16_t input_offset) {
  uint16_t i = 0;
  uint32_t offset2 = (uint16_t)input_offset * 0x00010001u;
  for (; i + 4u <= n_in; i += 4) {
    uint32_t in4, w4;
    memcpy(&in4, &input[i], 4);
    memcpy(&w4, &row[i], 4);
    acc = __smlad(__sadd16(__sxtb16(in4), offset2), __sxtb16(w4), acc);
    acc = __smlad(__sadd16(__sxtb16(ror8(in4)), offset2), __sxtb16(ror8(w4)), acc);
  }
  for (; i < n_in; ++i) { /* the last n_in % 4 inputs */
    acc += (int32_t)(input[i] + input_offset) * TINYML_READ_I8(&row[i]);
  }
  return acc;
}

/* Every input: the reference loop with dsp_dot. */
TINYML_LAYER void dsp_dense_int8_rows(const int8_t *input, int8_t *output, uint16_t n_in,
                                      uint16_t n_out, const int8_t *weights, const int32_t *bias,
                                      const int32_t *multiplier, const int8_t *shift,
                                      int16_t input_offset, int16_t output_zero_point,
                                      int8_t act_min, int8_t act_max) {
  uint8_t relu = act_min >= output_zero_point;
  const int8_t *row = weights;
  for (uint16_t o = 0; o < n_out; ++o, row += n_in) {
    int32_t acc = dsp_dot(bias ? TINYML_READ_I32(&bias[o]) : 0, input, row, n_in, input_offset);
    output[o] = relu_shortcut(relu, acc, shift, o)
                    ? act_min
                    : finish(acc, TINYML_READ_I32(&multiplier[o]), TINYML_READ_I8(&shift[o]),
                             output_zero_point, act_min, act_max);
  }
}
#endif /* TINYML_DSP */

#if defined(__AVR__)
/* ---- 2c. AVR: float ------------------------------------------------------------------------
 * The reference float loop, except that zero inputs are skipped: without an FPU a
 * multiply-add costs ~150 cycles and a test for 0 a few; after a ReLU most inputs are exactly
 * 0, and acc + 0 * w is acc. */
TINYML_LAYER void avr_dense_float(const float *input, float *output, uint16_t n_in, uint16_t n_out,
                                  const float *weights, const float *bias, uint8_t relu) {
  for (uint16_t o = 0; o < n_out; ++o) {
    float acc = TINYML_READ_F32(&bias[o]);
    const float *row = &weights[(uint32_t)o * n_in];
    for (uint16_t i = 0; i < n_in; ++i) {
      union {
        float f;
        uint32_t bits;
      } x = {input[i]};
      if ((x.bits << 1) == 0) continue; /* +0.0 or -0.0: test the bits, not a float compare */
      acc += input[i] * TINYML_READ_F32(&row[i]);
    }
    output[o] = (relu && acc < 0.0f) ? 0.0f : acc; /* ReLU: max(0, acc) */
  }
}
#endif /* __AVR__ */

#if TINYML_AVR
/* ---- 2c. AVR with a hardware multiplier: the int8 layer in assembly ------------------------ */

/* Everything the assembly layer needs, in one place. The assembly reads each field at a
 * hand-written offset from Y (ldd rN, Y+offset, a pointer or int16 as two bytes, low first):
 * the _Static_asserts below turn any change of this layout into a build error instead of
 * silently wrong outputs. Change the struct, the asserts and the assembly together. */
struct tinyml_avr_layer {
  const int8_t *input;       /* 0 */
  int8_t *output;            /* 2 */
  const int8_t *weights;     /* 4: flash */
  const int32_t *bias;       /* 6: flash */
  const int32_t *multiplier; /* 8: flash */
  const int8_t *shift;       /* 10: flash */
  uint8_t *pairs;            /* 12: room for 2 * n_in + 1 bytes */
  uint8_t n_in;              /* 14 */
  uint8_t n_out;             /* 15 */
  uint8_t input_offset;      /* 16: 128 or 0 */
  uint8_t flags;             /* 17: bit 0 signed x, bit 1 ReLU */
  int8_t act_min;            /* 18 */
  int8_t act_max;            /* 19 */
  int16_t output_zero_point; /* 20 (low byte), 21 (high byte) */
};
typedef struct tinyml_avr_layer avr_layer_t;

_Static_assert(offsetof(struct tinyml_avr_layer, input) == 0, "tinyml_avr_dense: input at Y+0");
_Static_assert(offsetof(struct tinyml_avr_layer, output) == 2, "tinyml_avr_dense: output at Y+2");
_Static_assert(offsetof(struct tinyml_avr_layer, weights) == 4, "tinyml_avr_dense: weights at Y+4");
_Static_assert(offsetof(struct tinyml_avr_layer, bias) == 6, "tinyml_avr_dense: bias at Y+6");
_Static_assert(offsetof(struct tinyml_avr_layer, multiplier) == 8,
               "tinyml_avr_dense: multiplier at Y+8");
_Static_assert(offsetof(struct tinyml_avr_layer, shift) == 10, "tinyml_avr_dense: shift at Y+10");
_Static_assert(offsetof(struct tinyml_avr_layer, pairs) == 12, "tinyml_avr_dense: pairs at Y+12");
_Static_assert(offsetof(struct tinyml_avr_layer, n_in) == 14, "tinyml_avr_dense: n_in at Y+14");
_Static_assert(offsetof(struct tinyml_avr_layer, n_out) == 15, "tinyml_avr_dense: n_out at Y+15");
_Static_assert(offsetof(struct tinyml_avr_layer, input_offset) == 16,
               "tinyml_avr_dense: input_offset at Y+16");
_Static_assert(offsetof(struct tinyml_avr_layer, flags) == 17, "tinyml_avr_dense: flags at Y+17");
_Static_assert(offsetof(struct tinyml_avr_layer, act_min) == 18,
               "tinyml_avr_dense: act_min at Y+18");
_Static_assert(offsetof(struct tinyml_avr_layer, act_max) == 19,
               "tinyml_avr_dense: act_max at Y+19");
_Static_assert(offsetof(struct tinyml_avr_layer, output_zero_point) == 20,
               "tinyml_avr_dense: output_zero_point at Y+20");
_Static_assert(sizeof(void *) == 2 && sizeof(struct tinyml_avr_layer) == 22,
               "tinyml_avr_dense: two-byte pointers, 22 bytes in all");

/* The whole layer: gather, then for each row acc = bias + sum over the pairs of x * w, then
 * act_min (ReLU, acc <= 0, shift <= 0) or requantize and clamp. Assembly at the end of this
 * file. */
void tinyml_avr_dense(const avr_layer_t *layer);

/* Needs an input offset of 128 or 0, a bias, 1 to 127 inputs, 1 to 255 outputs, and room for
 * 2 * n_in + 1 bytes at pairs. */
TINYML_LAYER void avr_dense_int8(const int8_t *input, int8_t *output, uint16_t n_in, uint16_t n_out,
                                 const int8_t *weights, const int32_t *bias,
                                 const int32_t *multiplier, const int8_t *shift,
                                 int16_t input_offset, int16_t output_zero_point, int8_t act_min,
                                 int8_t act_max, uint8_t *pairs) {
  uint8_t relu = act_min >= output_zero_point;
  uint8_t is_signed = input_offset == 0;
  avr_layer_t layer = {
      .input = input,
      .output = output,
      .weights = weights,
      .bias = bias,
      .multiplier = multiplier,
      .shift = shift,
      .pairs = pairs,
      .n_in = (uint8_t)n_in,
      .n_out = (uint8_t)n_out,
      .input_offset = (uint8_t)input_offset,
      .flags = (uint8_t)(is_signed | (relu << 1)),
      .act_min = act_min,
      .act_max = act_max,
      .output_zero_point = output_zero_point,
  };
  tinyml_avr_dense(&layer);
}

/* avr-gcc's calling convention: arguments from r25 downwards (an int32 in r22..r25, the next
 * in r18..r21, a pointer in a register pair), the result in r22..r25 (a byte in r24);
 * r18..r27, r30, r31 and r0 are free to use, r1 must be zero on return, r2..r17 and r28/r29
 * must be preserved. */

/* void tinyml_avr_dense(const avr_layer_t *layer r24:r25)
 * The loop state lives in call-saved registers: Y = layer, r16:r17 = row, r14:r15 = bias,
 * r12:r13 = output, r10:r11 = multiplier, r8:r9 = shift (each pointer moves on by one row per
 * row), r6:r7 = pairs, r5 = n_in, r4 = rows left, r3 = flags, r2 = this row's shift (it
 * outlives the call to tinyml_avr_high_mul). A gathered pair costs 22 cycles. Every Y+n below
 * is a field of struct tinyml_avr_layer (offsets checked above). */
/* (clang-format would split this macro's "multiply" line mid-instruction.) */
/* clang-format off */
#define TINYML_AVR_MAC(multiply)                                                                 \
  "  ld   r30, X+\n"            /* i */                                                          \
  "  ldi  r31, 0\n"                                                                              \
  "  add  r30, r16\n"           /* Z = row + i */                                                \
  "  adc  r31, r17\n"                                                                            \
  "  lpm  r19, Z\n"             /* w, from flash */                                              \
  "  " multiply " r19, r18\n"   /* r1:r0 = w * x, a signed 16-bit product */                     \
  "  mov  r19, r1\n"            /* its sign, extended to a whole byte */                         \
  "  lsl  r19\n"                                                                                 \
  "  sbc  r19, r19\n"                                                                            \
  "  add  r22, r0\n"            /* acc += product */                                             \
  "  adc  r23, r1\n"                                                                             \
  "  adc  r24, r19\n"                                                                            \
  "  adc  r25, r19\n"
/* clang-format on */

__asm__(
    ".pushsection .text.tinyml_avr_dense,\"ax\",@progbits\n"
    ".global tinyml_avr_dense\n"
    "tinyml_avr_dense:\n"
    "  push r2\n  push r3\n  push r4\n  push r5\n  push r6\n  push r7\n  push r8\n  push r9\n"
    "  push r10\n  push r11\n  push r12\n  push r13\n  push r14\n  push r15\n  push r16\n"
    "  push r17\n  push r28\n  push r29\n"
    "  movw r28, r24\n"
    /* gather: (x, i) for every x = input[i] + offset that is not 0, then a 0 */
    "  ldd  r26, Y+0\n  ldd r27, Y+1\n"   /* X = input */
    "  ldd  r30, Y+12\n  ldd r31, Y+13\n" /* Z = pairs */
    "  ldd  r18, Y+14\n"                  /* n_in */
    "  ldd  r19, Y+16\n"                  /* offset */
    "  clr  r20\n"                        /* i */
    "1:\n"
    "  ld   r21, X+\n"
    "  add  r21, r19\n"
    "  breq 2f\n"
    "  st   Z+, r21\n"
    "  st   Z+, r20\n"
    "2:\n"
    "  inc  r20\n"
    "  cp   r20, r18\n"
    "  brne 1b\n"
    "  st   Z, r1\n"
    "  ldd  r12, Y+2\n  ldd r13, Y+3\n" /* output */
    "  ldd  r16, Y+4\n  ldd r17, Y+5\n" /* row = weights */
    "  ldd  r14, Y+6\n  ldd r15, Y+7\n" /* bias */
    "  ldd  r10, Y+8\n  ldd r11, Y+9\n" /* multiplier */
    "  ldd  r8, Y+10\n  ldd r9, Y+11\n"  /* shift */
    "  ldd  r6, Y+12\n  ldd r7, Y+13\n"  /* pairs */
    "  ldd  r5, Y+14\n"                 /* n_in */
    "  ldd  r4, Y+15\n"                 /* rows left = n_out */
    "  ldd  r3, Y+17\n"                 /* flags */
    "3:\n"                              /* a row: acc (r22..r25) = bias */
    "  movw r30, r14\n"
    "  lpm  r22, Z+\n  lpm r23, Z+\n  lpm r24, Z+\n  lpm r25, Z+\n"
    "  movw r14, r30\n"
    "  movw r26, r6\n" /* X walks the pairs */
    "  sbrc r3, 0\n"
    "  rjmp 5f\n"
    "4:\n"             /* unsigned x: MULSU */
    "  ld   r18, X+\n" /* x; 0 ends the list */
    "  tst  r18\n"
    "  breq 6f\n" TINYML_AVR_MAC("mulsu") "  rjmp 4b\n"
    "5:\n" /* signed x: MULS */
    "  ld   r18, X+\n"
    "  tst  r18\n"
    "  breq 6f\n" TINYML_AVR_MAC("muls") "  rjmp 5b\n"
    "6:\n"
    "  clr  r1\n"
    "  add  r16, r5\n" /* the next row */
    "  adc  r17, r1\n"
    "  movw r30, r8\n" /* r2 = shift[o] */
    "  lpm  r2, Z+\n"
    "  movw r8, r30\n"
    "  sbrs r3, 1\n"
    "  rjmp 7f\n"
    "  cp   r1, r22\n" /* ReLU, acc <= 0 and shift <= 0: the output is act_min */
    "  cpc  r1, r23\n"
    "  cpc  r1, r24\n"
    "  cpc  r1, r25\n"
    "  brlt 7f\n"
    "  cp   r1, r2\n" /* (a left shift can wrap acc to a positive product, as in TFLM) */
    "  brlt 7f\n"
    "  ldi  r18, 4\n" /* this row's multiplier is not needed: skip it */
    "  add  r10, r18\n"
    "  adc  r11, r1\n"
    "  ldd  r22, Y+18\n" /* act_min */
    "  rjmp 20f\n"
    "7:\n" /* requantize */
    "  mov  r18, r2\n"
    "16:\n" /* shift > 0 first multiplies acc by 2^shift (wrapping, as TFLM) */
    "  cp   r1, r18\n"
    "  brge 8f\n"
    "  lsl  r22\n  rol r23\n  rol r24\n  rol r25\n"
    "  dec  r18\n"
    "  rjmp 16b\n"
    "8:\n" /* t = floor((acc * m + 2^30) / 2^31), m = multiplier[o] */
    "  movw r30, r10\n"
    "  lpm  r18, Z+\n  lpm r19, Z+\n  lpm r20, Z+\n  lpm r21, Z+\n"
    "  movw r10, r30\n"
    "  call tinyml_avr_high_mul\n"
    "  mov  r19, r2\n" /* the shift again */
    "  neg  r19\n"     /* right = -shift */
    "  brmi 12f\n"     /* shift > 0 or 0: no division */
    "  breq 12f\n"
    /* t / 2^right rounded half away from zero: ((t - [t < 0]) >> (right - 1)) + 1) >> 1 */
    "  sbrs r25, 7\n"
    "  rjmp 9f\n"
    "  subi r22, 1\n  sbci r23, 0\n  sbci r24, 0\n  sbci r25, 0\n"
    "9:\n"
    "  dec  r19\n"
    "10:\n" /* whole bytes first */
    "  cpi  r19, 8\n"
    "  brlo 11f\n"
    "  mov  r22, r23\n  mov r23, r24\n  mov r24, r25\n  lsl r25\n  sbc r25, r25\n"
    "  subi r19, 8\n"
    "  rjmp 10b\n"
    "11:\n"
    "  tst  r19\n"
    "  breq 13f\n"
    "  asr  r25\n  ror r24\n  ror r23\n  ror r22\n"
    "  dec  r19\n"
    "  rjmp 11b\n"
    "13:\n"
    "  subi r22, 0xFF\n  sbci r23, 0xFF\n  sbci r24, 0xFF\n  sbci r25, 0xFF\n" /* + 1 */
    "  asr  r25\n  ror r24\n  ror r23\n  ror r22\n"
    "12:\n"                               /* y = t + zero point, clamped to [act_min, act_max] */
    "  ldd  r18, Y+20\n  ldd r19, Y+21\n" /* output_zero_point */
    "  mov  r20, r19\n  lsl r20\n  sbc r20, r20\n"
    "  add  r22, r18\n  adc r23, r19\n  adc r24, r20\n  adc r25, r20\n"
    "  mov  r18, r22\n  lsl r18\n  sbc r18, r18\n" /* does y fit in a signed byte? */
    "  cp   r23, r18\n  brne 15f\n"
    "  cp   r24, r18\n  brne 15f\n"
    "  cp   r25, r18\n  brne 15f\n"
    "  ldd  r18, Y+18\n" /* act_min */
    "  cp   r22, r18\n"
    "  brge 14f\n"
    "  mov  r22, r18\n"
    "14:\n"
    "  ldd  r18, Y+19\n" /* act_max */
    "  cp   r18, r22\n"
    "  brge 20f\n"
    "  mov  r22, r18\n"
    "  rjmp 20f\n"
    "15:\n"              /* far outside: the end of the range on y's side */
    "  ldd  r22, Y+18\n" /* act_min */
    "  sbrs r25, 7\n"
    "  ldd  r22, Y+19\n" /* act_max */
    "20:\n"              /* store, next row */
    "  movw r26, r12\n"
    "  st   X+, r22\n"
    "  movw r12, r26\n"
    "  dec  r4\n"
    "  breq 21f\n"
    "  rjmp 3b\n" /* (too far for a conditional branch) */
    "21:\n"
    "  pop  r29\n  pop r28\n  pop r17\n  pop r16\n  pop r15\n  pop r14\n  pop r13\n  pop r12\n"
    "  pop  r11\n  pop r10\n  pop r9\n  pop r8\n  pop r7\n  pop r6\n  pop r5\n  pop r4\n"
    "  pop  r3\n  pop r2\n"
    "  ret\n"
    ".popsection\n");

/* int32_t tinyml_avr_high_mul(int32_t a r22-r25, int32_t m r18-r21), m >= 0:
 * floor((a * m + 2^30) / 2^31). The product a * m is summed column by column (byte k of the
 * result collects every a_i * m_j with i + j = k) in three rotating registers; only the
 * bytes 3..7 are kept. a is multiplied as unsigned, then m * 2^32 is taken off if a < 0. */
__asm__(
    ".pushsection .text.tinyml_avr_high_mul,\"ax\",@progbits\n"
    ".global tinyml_avr_high_mul\n"
    "tinyml_avr_high_mul:\n"
    "  bst  r25, 7\n"   /* T = (a < 0) */
    "  clr  r27\n"      /* a zero register (r1 holds products) */
    "  mul  r22, r18\n" /* column 0: byte 0 is dropped, its carry kept */
    "  movw r30, r0\n"
    "  clr  r26\n"
    "  clr  r30\n" /* column 1: r31 r26 r30 */
    "  mul  r22, r19\n  add r31, r0\n  adc r26, r1\n  adc r30, r27\n"
    "  mul  r23, r18\n  add r31, r0\n  adc r26, r1\n  adc r30, r27\n"
    "  clr  r31\n" /* column 2: r26 r30 r31 */
    "  mul  r22, r20\n  add r26, r0\n  adc r30, r1\n  adc r31, r27\n"
    "  mul  r23, r19\n  add r26, r0\n  adc r30, r1\n  adc r31, r27\n"
    "  mul  r24, r18\n  add r26, r0\n  adc r30, r1\n  adc r31, r27\n"
    "  clr  r26\n" /* column 3: r30 r31 r26 */
    "  mul  r22, r21\n  add r30, r0\n  adc r31, r1\n  adc r26, r27\n"
    "  mul  r23, r20\n  add r30, r0\n  adc r31, r1\n  adc r26, r27\n"
    "  mul  r24, r19\n  add r30, r0\n  adc r31, r1\n  adc r26, r27\n"
    "  mul  r25, r18\n  add r30, r0\n  adc r31, r1\n  adc r26, r27\n"
    "  subi r30, 0xC0\n  sbci r31, 0xFF\n  sbci r26, 0xFF\n" /* + 2^30 (as - 0xFFFFC0) */
    "  mov  r22, r30\n"                                      /* byte 3 */
    "  clr  r30\n"                                           /* column 4: r31 r26 r30 */
    "  mul  r23, r21\n  add r31, r0\n  adc r26, r1\n  adc r30, r27\n"
    "  mul  r24, r20\n  add r31, r0\n  adc r26, r1\n  adc r30, r27\n"
    "  mul  r25, r19\n  add r31, r0\n  adc r26, r1\n  adc r30, r27\n"
    "  mov  r23, r31\n" /* byte 4 */
    "  clr  r31\n"      /* column 5: r26 r30 r31 */
    "  mul  r24, r21\n  add r26, r0\n  adc r30, r1\n  adc r31, r27\n"
    "  mul  r25, r20\n  add r26, r0\n  adc r30, r1\n  adc r31, r27\n"
    "  mov  r24, r26\n"                               /* byte 5 */
    "  mul  r25, r21\n  add r30, r0\n  adc r31, r1\n" /* column 6: bytes 6 and 7 */
    "  brtc 1f\n"
    "  sub  r23, r18\n  sbc r24, r19\n  sbc r30, r20\n  sbc r31, r21\n" /* a < 0: - m * 2^32 */
    "1:\n"
    "  lsl  r22\n  rol r23\n  rol r24\n  rol r30\n  rol r31\n" /* bits 31..62 */
    "  mov  r22, r23\n"
    "  mov  r23, r24\n"
    "  movw r24, r30\n"
    "  clr  r1\n"
    "  ret\n"
    ".popsection\n");
#endif /* TINYML_AVR */

/* ============================================================================================
 * Part 3. The entry points: which path runs where
 * ============================================================================================
 */

void tinyml_dense_float(const float *input, float *output, uint16_t n_in, uint16_t n_out,
                        const float *weights, const float *bias, uint8_t relu) {
#if defined(__AVR__)
  avr_dense_float(input, output, n_in, n_out, weights, bias, relu);
#else
  dense_float_reference(input, output, n_in, n_out, weights, bias, relu);
#endif
}

int32_t tinyml_requantize(int32_t acc, int32_t multiplier, int8_t shift) {
  return requantize(acc, multiplier, shift);
}

void tinyml_dense_int8(const int8_t *input, int8_t *output, uint16_t n_in, uint16_t n_out,
                       const int8_t *weights, const int32_t *bias, const int32_t *multiplier,
                       const int8_t *shift, int16_t input_offset, int16_t output_zero_point,
                       int8_t act_min, int8_t act_max) {
  /* x = input + offset fits one byte when the input zero point is -128 or 0 (see Part 2). */
  uint8_t is_signed = input_offset == 0;
#if TINYML_AVR
  if ((input_offset == 128 || is_signed) && bias && n_in && n_in < 128 && n_out && n_out < 256) {
    uint8_t pairs[2 * n_in + 1]; /* the gathered (x, i) pairs */
    avr_dense_int8(input, output, n_in, n_out, weights, bias, multiplier, shift, input_offset,
                   output_zero_point, act_min, act_max, pairs);
    return;
  }
  dense_int8_reference(input, output, n_in, n_out, weights, bias, multiplier, shift, input_offset,
                       output_zero_point, act_min, act_max);
#elif TINYML_DSP
  /* (A single row is cheaper with the plain SMLAD loop than with gathering.) */
  if (n_in <= TINYML_GATHER_MAX && (input_offset == 128 || is_signed) && n_out > 1) {
    dsp_dense_int8_gathered(input, output, n_in, n_out, weights, bias, multiplier, shift,
                            input_offset, output_zero_point, act_min, act_max);
    return;
  }
  dsp_dense_int8_rows(input, output, n_in, n_out, weights, bias, multiplier, shift, input_offset,
                      output_zero_point, act_min, act_max);
#else
  if (n_in <= TINYML_GATHER_MAX && (input_offset == 128 || is_signed)) {
    dense_int8_gathered(input, output, n_in, n_out, weights, bias, multiplier, shift, input_offset,
                        output_zero_point, act_min, act_max);
    return;
  }
  dense_int8_reference(input, output, n_in, n_out, weights, bias, multiplier, shift, input_offset,
                       output_zero_point, act_min, act_max);
#endif
}
