/* tinyml_ops_fast.c: see tinyml_ops_fast.h. Part of the TinyML course (tinyml_helpers/deploy/c).
 *
 * How to read this file:
 *
 *   Part 1, dot products: sum x[i] * w[i] over int8 values, the inner loop of every kernel, in
 *           three versions chosen by the compiler's own feature macros:
 *             1a. plain C (every other target);
 *             1b. Cortex-M4/M7 with the DSP extension (__ARM_FEATURE_DSP): SMLAD, two 16-bit
 *                 products and their sum in one instruction;
 *             1c. AVR with a hardware multiplier (__AVR_HAVE_MUL__): MULS in inline assembly.
 *   Part 2, the kernels, the same C on every target:
 *             CONV_2D: per output pixel, one dot product per output channel over the window;
 *             DEPTHWISE_CONV_2D: per output pixel, one strided dot product per channel;
 *             MAX_POOL_2D, AVERAGE_POOL_2D: the reference's loops with pointer steps;
 *             FULLY_CONNECTED: one dot product per output.
 *
 * What makes them faster than tinyml_ops.c, which does the same arithmetic:
 *  - the folded bias (see tinyml_ops_fast.h): no offset is added inside the loops, and each
 *    product is int8 x int8 -> int16 added to an int32 sum (the reference multiplies in int32,
 *    which on the AVR is a library call of about 60 cycles);
 *  - no index arithmetic in the inner loops: pointers step through the arrays;
 *  - no bounds tests in the dot products: a window is read where it lies when it can be (a
 *    depthwise window inside the image, a convolution window that is one run of the input), or
 *    else first copied into a small buffer (im2col), with the input zero point for the taps
 *    outside the image;
 *  - on a DSP, two output channels share each load and unpacking of a window, and a depthwise
 *    convolution's channels go four at a time through SMLABB / SMLATT;
 *  - a ReLU output whose sum is <= 0 is the clamp's floor without requantizing, when the
 *    requantization cannot wrap (its shift is not a left shift).
 *
 * Sums are kept in uint32_t: they wrap modulo 2^32 as TFLM's int32 sums do, without relying on
 * signed overflow in C; the last cast to int32_t is two's complement on every target here.
 */
#include "tinyml_ops_fast.h"

#include <stddef.h>

#if defined(__AVR__) && defined(__AVR_HAVE_MUL__)
#define TINYML_FAST_AVR 1 /* Part 1c */
#elif defined(__ARM_FEATURE_DSP)
#define TINYML_FAST_DSP 1 /* Part 1b */
#include <arm_acle.h>
#include <string.h>
#endif

/* The dot products are inlined into the loops of Part 2 (on the AVR they are a few
 * instructions of assembly; a call would cost more than a short row of products). */
#define TINYML_INLINE static inline __attribute__((always_inline))

/* ============================================================================================
 * Part 1. Dot products
 * ============================================================================================
 * x is in RAM (activations, or a window copied by Part 2), w in constant memory (flash on the
 * Uno). Each function adds to acc and returns the sum:
 *   dot(acc, x, w, n)                      acc + sum_i x[i] * w[i]                  i < n
 *   dot2(&a, &b, x, w0, w1, n)             a += x . w0, b += x . w1 (one pass over x; not on
 *                                          the AVR)
 *   strided_dot(acc, x, xs, w, ws, n)      acc + sum_i x[i * xs] * w[i * ws]
 */

#if !TINYML_FAST_AVR
/* ---- 1a. Plain C ---------------------------------------------------------------------------
 * An int8 x int8 product fits an int16 (at most 128 * 128 in size). */

/* acc + x * w */
TINYML_INLINE uint32_t mac(uint32_t acc, int8_t x, int8_t w) {
  return acc + (uint32_t)(int32_t)(int16_t)(x * w);
}

TINYML_INLINE uint32_t strided_dot(uint32_t acc, const int8_t *x, ptrdiff_t x_step, const int8_t *w,
                                   ptrdiff_t w_step, uint16_t n) {
  for (int i = 0; i < n; ++i, x += x_step, w += w_step) acc = mac(acc, *x, TINYML_READ_I8(w));
  return acc;
}
#endif /* !TINYML_FAST_AVR */

#if !TINYML_FAST_AVR && !TINYML_FAST_DSP
TINYML_INLINE uint32_t dot(uint32_t acc, const int8_t *x, const int8_t *w, uint16_t n) {
  for (int i = 0; i < n; ++i) acc = mac(acc, x[i], TINYML_READ_I8(&w[i]));
  return acc;
}

TINYML_INLINE void dot2(uint32_t *acc0, uint32_t *acc1, const int8_t *x, const int8_t *w0,
                        const int8_t *w1, uint16_t n) {
  uint32_t a = *acc0, b = *acc1;
  for (int i = 0; i < n; ++i) {
    a = mac(a, x[i], TINYML_READ_I8(&w0[i]));
    b = mac(b, x[i], TINYML_READ_I8(&w1[i]));
  }
  *acc0 = a;
  *acc1 = b;
}
#endif /* !TINYML_FAST_AVR && !TINYML_FAST_DSP */

#if TINYML_FAST_DSP
/* ---- 1b. Cortex-M4/M7 DSP extension --------------------------------------------------------
 * Four int8 values are loaded as one word. SXTB16 sign-extends its bytes 0 and 2 into the two
 * 16-bit halves of a word; rotated by 8 bits first, its bytes 1 and 3. SMLAD multiplies the
 * halves of its two operands pairwise and adds both products to the sum: four products in two
 * instructions once the words are unpacked. Pairing even bytes with even bytes and odd with odd
 * only reorders the sum. */

TINYML_INLINE uint32_t load4(const int8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4); /* one LDR: the M4 reads unaligned words */
  return v;
}

/* Bytes 0 and 2 of v, sign-extended into the two halves of a word */
TINYML_INLINE uint32_t even_bytes(uint32_t v) { return __sxtb16(v); }

/* Bytes 1 and 3: SXTB16 of v rotated right by 8 bits, one instruction (the compiler does not
 * fold the rotation into SXTB16 itself). */
TINYML_INLINE uint32_t odd_bytes(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

/* acc + the products of the 16-bit halves of x2 and w2 */
TINYML_INLINE uint32_t smlad(uint32_t x2, uint32_t w2, uint32_t acc) {
  return (uint32_t)__smlad(x2, w2, (int32_t)acc);
}

TINYML_INLINE uint32_t dot(uint32_t acc, const int8_t *x, const int8_t *w, uint16_t n) {
  int left = n;
  for (; left >= 4; left -= 4, x += 4, w += 4) {
    const uint32_t x4 = load4(x), w4 = load4(w);
    acc = smlad(even_bytes(x4), even_bytes(w4), acc);
    acc = smlad(odd_bytes(x4), odd_bytes(w4), acc);
  }
  for (; left > 0; --left) acc = mac(acc, *x++, *w++); /* the last n % 4 */
  return acc;
}

/* x is loaded and unpacked once for both rows: 3 instructions shared, 5 per row. */
TINYML_INLINE void dot2(uint32_t *acc0, uint32_t *acc1, const int8_t *x, const int8_t *w0,
                        const int8_t *w1, uint16_t n) {
  uint32_t a = *acc0, b = *acc1;
  int left = n;
  for (; left >= 4; left -= 4, x += 4, w0 += 4, w1 += 4) {
    const uint32_t x4 = load4(x);
    const uint32_t even = even_bytes(x4), odd = odd_bytes(x4);
    const uint32_t u4 = load4(w0), v4 = load4(w1);
    a = smlad(even, even_bytes(u4), a);
    a = smlad(odd, odd_bytes(u4), a);
    b = smlad(even, even_bytes(v4), b);
    b = smlad(odd, odd_bytes(v4), b);
  }
  for (; left > 0; --left) {
    const int8_t v = *x++;
    a = mac(a, v, *w0++);
    b = mac(b, v, *w1++);
  }
  *acc0 = a;
  *acc1 = b;
}
#endif /* TINYML_FAST_DSP */

#if TINYML_FAST_AVR
/* ---- 1c. AVR with a hardware multiplier ----------------------------------------------------
 * avr-gcc compiles the plain C's int8 x int8 product added to an int32 as a call to its 16 x
 * 16 -> 32-bit multiply (__mulhisi3). In assembly it is MULS (2 cycles, the signed 16-bit
 * product in r1:r0) and four adds, the upper two adding the product's sign extension. x is
 * read through X from RAM, w through Z from flash (LPM); avr-gcc keeps r1 at zero, so the
 * assembly clears it again when done. */

/* The product's sign (0xFF or 0) into SIGN, then the four adds into ACC. */
#define TINYML_AVR_ADD_PRODUCT                                                                     \
  "  mov  %[sign], r1\n"                                                                           \
  "  lsl  %[sign]\n"                                                                               \
  "  sbc  %[sign], %[sign]\n"                                                                      \
  "  add  %A[acc], r0\n"                                                                           \
  "  adc  %B[acc], r1\n"                                                                           \
  "  adc  %C[acc], %[sign]\n"                                                                      \
  "  adc  %D[acc], %[sign]\n"

/* 18 cycles a product: LD X+ 2, LPM Z+ 3, MULS 2, adds 7, loop 4. */
TINYML_INLINE uint32_t dot(uint32_t acc, const int8_t *x, const int8_t *w, uint16_t n) {
  if (n == 0) return acc;
  int8_t v, u, sign;
  __asm__(
      "1:\n"
      "  ld   %[v], X+\n"
      "  lpm  %[u], Z+\n"
      "  muls %[v], %[u]\n" TINYML_AVR_ADD_PRODUCT
      "  sbiw %[n], 1\n"
      "  brne 1b\n"
      "  clr  r1\n"
      : [acc] "+r"(acc), [x] "+x"(x), [w] "+z"(w), [n] "+w"(n), [v] "=&d"(v), [u] "=&d"(u),
        [sign] "=&r"(sign)
      :
      : "r0", "memory");
  return acc;
}

/* 22 cycles a product: dot's loop with the two pointers stepped by adds. */
TINYML_INLINE uint32_t strided_dot(uint32_t acc, const int8_t *x, ptrdiff_t x_step, const int8_t *w,
                                   ptrdiff_t w_step, uint16_t n) {
  if (n == 0) return acc;
  int8_t v, u, sign;
  __asm__(
      "1:\n"
      "  ld   %[v], X\n"
      "  add  r26, %A[xs]\n"
      "  adc  r27, %B[xs]\n"
      "  lpm  %[u], Z\n"
      "  add  r30, %A[ws]\n"
      "  adc  r31, %B[ws]\n"
      "  muls %[v], %[u]\n" TINYML_AVR_ADD_PRODUCT
      "  sbiw %[n], 1\n"
      "  brne 1b\n"
      "  clr  r1\n"
      : [acc] "+r"(acc), [x] "+x"(x), [w] "+z"(w), [n] "+w"(n), [v] "=&d"(v), [u] "=&d"(u),
        [sign] "=&r"(sign)
      : [xs] "r"(x_step), [ws] "r"(w_step)
      : "r0", "memory");
  return acc;
}
#endif /* TINYML_FAST_AVR */

/* ============================================================================================
 * Part 2. The kernels
 * ============================================================================================
 * The loops that run once per output pixel are functions of their own (TINYML_NOINLINE): on the
 * AVR's 32 registers, one function holding every loop's counters and pointers spills most of
 * them to the stack and reloads them in the inner loops, which costs more than the calls.
 */
#define TINYML_NOINLINE __attribute__((noinline))

/* What turns the sums of one operator's output channels into codes. */
typedef struct {
  const int32_t *folded_bias; /* [channels], constant memory */
  const int32_t *multiplier;  /* [channels], constant memory */
  const int8_t *shift;        /* [channels], constant memory */
  int16_t output_offset;
  int8_t act_min, act_max;
  uint8_t relu; /* act_min >= output_offset: the clamp cuts at or above the zero point */
} requant_t;

#define TINYML_REQUANT(p, folded_bias)                                                             \
  {(folded_bias),                                                                                  \
   (p).output_multiplier,                                                                          \
   (p).output_shift,                                                                               \
   (p).output_offset,                                                                              \
   (p).quantized_activation_min,                                                                   \
   (p).quantized_activation_max,                                                                   \
   (p).quantized_activation_min >= (p).output_offset}

TINYML_INLINE uint32_t folded_bias(const requant_t *q, int c) {
  return (uint32_t)TINYML_READ_I32(&q->folded_bias[c]);
}

#if TINYML_FAST_AVR
/* On the AVR, tinyml_requantize's high multiply is assembly (tinyml_kernels.c). */
#define requantize tinyml_requantize
#else
/* tinyml_requantize (tinyml_kernels.c), inlined: TFLM's MultiplyByQuantizedMultiplier. acc
 * times 2^shift if shift > 0 (wrapping in int32, as TFLM's), then the rounded high half of its
 * product with the Q31 multiplier (never negative, so never the one product that saturates),
 * then divided by 2^-shift if shift < 0, rounded half away from zero. */
TINYML_INLINE int32_t requantize(int32_t acc, int32_t multiplier, int8_t shift) {
  if (shift > 0) acc = (int32_t)((uint32_t)acc << shift);
  int32_t t = (int32_t)(((int64_t)acc * multiplier + ((int64_t)1 << 30)) >> 31);
  if (shift >= 0) return t;
  const int right = -shift;
  if (t < 0) t -= 1; /* floor((t - [t < 0]) / 2^(right-1)) + 1, halved: see tinyml_kernels.c */
  return ((t >> (right - 1)) + 1) >> 1;
}
#endif

TINYML_INLINE int8_t requantize_clamp(const requant_t *q, int c, int32_t acc) {
  int32_t y = requantize(acc, TINYML_READ_I32(&q->multiplier[c]), TINYML_READ_I8(&q->shift[c])) +
              q->output_offset;
  if (y < q->act_min) y = q->act_min;
  if (y > q->act_max) y = q->act_max;
  return (int8_t)y;
}

/* Channel c's output code from its sum. Requantization is monotonic and keeps 0 at 0, so
 * behind a ReLU a sum <= 0 ends at act_min, unless a left shift (shift > 0) wraps it in int32
 * first, as TFLM's does: then it is requantized like any other. */
TINYML_INLINE int8_t finish(const requant_t *q, int c, uint32_t sum) {
  const int32_t acc = (int32_t)sum;
  if (q->relu && acc <= 0 && TINYML_READ_I8(&q->shift[c]) <= 0) return q->act_min;
  return requantize_clamp(q, c, acc);
}

/* out[c] for the output channels c = first .. first + count - 1: the n values of x dotted with
 * filter row c (n bytes), plus the channel's folded bias, requantized. */
static TINYML_NOINLINE void channels(const requant_t *requant, const int8_t *x,
                                     const int8_t *filter, uint16_t n, int first, int count,
                                     int8_t *out) {
  const requant_t r = *requant, *q = &r; /* in locals: the int8_t stores may alias *requant */
  const int8_t *w = filter + first * (ptrdiff_t)n;
  const int end = first + count;
  int c = first;
#if !TINYML_FAST_AVR
  /* Two channels at a time share each load of x (on the AVR, only Z reads flash: a pass over
   * two rows would cost what two passes cost, with more registers live). */
  for (; c + 1 < end; c += 2, w += 2 * (ptrdiff_t)n) {
    uint32_t acc0 = folded_bias(q, c), acc1 = folded_bias(q, c + 1);
    dot2(&acc0, &acc1, x, w, w + n, n);
    out[c] = finish(q, c, acc0);
    out[c + 1] = finish(q, c + 1, acc1);
  }
#endif
  for (; c < end; ++c, w += n) out[c] = finish(q, c, dot(folded_bias(q, c), x, w, n));
}

/* A convolution's window: its shape in the image, and what a tap outside the image reads. */
typedef struct {
  int input_height, input_width;
  int filter_height, filter_width;
  int dilation_height, dilation_width;
  int depth;             /* channels copied per tap */
  ptrdiff_t pixel_bytes; /* input_depth */
  ptrdiff_t row_bytes;   /* input_width * input_depth */
  int8_t zero_point;     /* the input zero point */
} window_t;

/* Is the window whose first tap is (in_y0, in_x0) wholly inside the image? */
TINYML_INLINE uint8_t inside(const window_t *g, int in_y0, int in_x0) {
  return in_y0 >= 0 && in_y0 + (g->filter_height - 1) * g->dilation_height < g->input_height &&
         in_x0 >= 0 && in_x0 + (g->filter_width - 1) * g->dilation_width < g->input_width;
}

/* The copies are a few bytes each: gcc would turn these loops into calls of memset and memcpy,
 * which cost more than the loops (and on a PC the first call's lazy binding takes over 400
 * bytes of stack). TINYML_PLAIN_LOOPS keeps them loops in the functions that use them. */
#if defined(__GNUC__) && !defined(__clang__)
#define TINYML_PLAIN_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TINYML_PLAIN_LOOPS
#endif

static inline void fill(int8_t *dst, int8_t value, int n) {
  for (; n > 0; --n) *dst++ = value;
}

static inline void copy(int8_t *dst, const int8_t *src, int n) {
  for (; n > 0; --n) *dst++ = *src++;
}

/* ---- CONV_2D --------------------------------------------------------------------------------
 * A filter is [filter_y][filter_x][in_channel]. For each output pixel (and group of input
 * channels) the window is copied into scratch in the same order (im2col), with the input zero
 * point for the taps outside the image: each output channel is then one dot product of scratch
 * with its filter, filter_height * filter_width * filter_input_depth long. A window that is one
 * run of the input already (a 1x1 filter, or one row of adjacent taps, over every channel and
 * inside the image) is read where it lies. */

/* Copy the window whose first tap is (in_y0, in_x0), channels channel0 .. channel0 + depth - 1
 * of each tap, into col as [filter_y][filter_x][depth]. (The window's fields are read into
 * locals first: every int8_t store may alias them, so the compiler would read them again after
 * each byte.) */
static TINYML_NOINLINE TINYML_PLAIN_LOOPS void gather_taps(const window_t *window,
                                                           const int8_t *image, int in_y0,
                                                           int in_x0, int channel0, int8_t *col) {
  const int filter_height = window->filter_height, filter_width = window->filter_width;
  const int depth = window->depth, row_len = filter_width * depth; /* bytes of a window row */
  const ptrdiff_t pixel_bytes = window->pixel_bytes, row_bytes = window->row_bytes;
  const int dilation_height = window->dilation_height;
  /* Each row's taps lie side by side in the image, with every channel: one copy a row. */
  const uint8_t one_run = window->dilation_width == 1 && depth == pixel_bytes;
  if (one_run && inside(window, in_y0, in_x0)) { /* the common case, without a test per row */
    const int8_t *row = image + in_y0 * row_bytes + in_x0 * pixel_bytes;
    const ptrdiff_t row_step = dilation_height * row_bytes;
    for (int filter_y = 0; filter_y < filter_height; ++filter_y, row += row_step) {
      copy(col, row, row_len);
      col += row_len;
    }
    return;
  }
  const int input_height = window->input_height, input_width = window->input_width;
  const int dilation_width = window->dilation_width;
  const int8_t zero_point = window->zero_point;
  const uint8_t row_run = one_run && in_x0 >= 0 && in_x0 + filter_width <= input_width;
  int in_y = in_y0;
  for (int filter_y = 0; filter_y < filter_height; ++filter_y, col += row_len) {
    const uint8_t row_inside = in_y >= 0 && in_y < input_height;
    const ptrdiff_t row = in_y * row_bytes + channel0;
    in_y += dilation_height;
    if (!row_inside) {
      fill(col, zero_point, row_len);
    } else if (row_run) {
      copy(col, image + row + in_x0 * pixel_bytes, row_len);
    } else {
      int8_t *tap = col;
      int in_x = in_x0;
      for (int filter_x = 0; filter_x < filter_width; ++filter_x, tap += depth) {
        if (in_x >= 0 && in_x < input_width) {
          copy(tap, image + row + in_x * pixel_bytes, depth);
        } else {
          fill(tap, zero_point, depth);
        }
        in_x += dilation_width;
      }
    }
  }
}

void tinyml_conv_2d_fast(const tinyml_conv_params *params, const int8_t *input_data,
                         const int8_t *filter_data, const int32_t *folded_bias, int8_t *scratch,
                         int8_t *output_data) {
  tinyml_conv_params p;
  TINYML_READ_PARAMS(&p, params);
  const requant_t q = TINYML_REQUANT(p, folded_bias);
  const int depth = p.filter_input_depth;
  const window_t g = {p.input_height,
                      p.input_width,
                      p.filter_height,
                      p.filter_width,
                      p.dilation_height_factor,
                      p.dilation_width_factor,
                      depth,
                      p.input_depth,
                      (ptrdiff_t)p.input_width * p.input_depth,
                      (int8_t)-p.input_offset};
  const int groups = p.input_depth / depth;
  const int filters_per_group = p.output_depth / groups;
  const uint16_t window = (uint16_t)(p.filter_height * p.filter_width * depth);
  /* The window is one run of the input where it lies inside the image. */
  const uint8_t one_run =
      groups == 1 && p.filter_height == 1 && (p.filter_width == 1 || p.dilation_width_factor == 1);
  const int batches = p.batches, output_height = p.output_height, output_width = p.output_width;
  const int stride_height = p.stride_height, stride_width = p.stride_width;
  const ptrdiff_t image_bytes = p.input_height * g.row_bytes;
  const int8_t *image = input_data;
  int8_t *out = output_data;

  for (int batch = 0; batch < batches; ++batch, image += image_bytes) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      const int in_y0 = out_y * stride_height - p.padding_height;
      for (int out_x = 0; out_x < output_width; ++out_x, out += p.output_depth) {
        const int in_x0 = out_x * stride_width - p.padding_width;
        if (one_run && inside(&g, in_y0, in_x0)) {
          const int8_t *x = image + in_y0 * g.row_bytes + in_x0 * g.pixel_bytes;
          channels(&q, x, filter_data, window, 0, p.output_depth, out);
          continue;
        }
        for (int group = 0; group < groups; ++group) {
          gather_taps(&g, image, in_y0, in_x0, group * depth, scratch);
          channels(&q, scratch, filter_data, window, group * filters_per_group, filters_per_group,
                   out);
        }
      }
    }
  }
}

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------------------------
 * Output channel c reads input channel c / depth_multiplier only. In a window its taps sit
 * input_depth bytes apart (times the dilation along a row of the image), and its weights
 * output_depth bytes apart in the filter [filter_y][filter_x][output channel]. A window inside
 * the image is read where it lies; one that leaves it is first copied into scratch, every
 * channel of every tap, the input zero point for the taps outside (gather_taps), and read there
 * with its taps side by side. Each output channel is then one strided dot product per row of
 * taps; on a DSP, four channels at a time when depth_multiplier is 1 (below). */

/* Where one pixel's window lies and how to step through it. */
typedef struct {
  const int8_t *x;    /* the first tap's first channel */
  ptrdiff_t tap_step; /* from a tap to the next in a row */
  ptrdiff_t row_step; /* from a row's first tap to the next row's */
} taps_t;

/* Every output channel of one pixel whose window is win. */
static TINYML_NOINLINE void depthwise_pixel(const requant_t *requant,
                                            const tinyml_depthwise_params *p, const taps_t *win,
                                            const int8_t *filter, int8_t *out) {
  const requant_t r = *requant, *q = &r; /* in locals: the int8_t stores may alias them */
  const taps_t t = *win;
  const int rows = p->filter_height, cols = p->filter_width;
  const int output_depth = p->output_depth, depth_multiplier = p->depth_multiplier;
  const ptrdiff_t filter_row = (ptrdiff_t)cols * output_depth; /* one row of taps' weights */
  int c = 0, in_c = 0;
#if TINYML_FAST_DSP
  /* One channel per output channel: four channels' taps and weights are each one word. SXTB16
   * splits a word into channels 0 and 2 (even_bytes) or 1 and 3 (odd_bytes), and SMLABB /
   * SMLATT multiply-accumulate the bottom or top halves: four products in four instructions,
   * each into its own channel's sum. */
  for (; depth_multiplier == 1 && c + 4 <= output_depth; c += 4, in_c += 4) {
    uint32_t a0 = folded_bias(q, c), a1 = folded_bias(q, c + 1);
    uint32_t a2 = folded_bias(q, c + 2), a3 = folded_bias(q, c + 3);
    const int8_t *x_row = t.x + c, *w = filter + c;
    for (int y = 0; y < rows; ++y, x_row += t.row_step) {
      const int8_t *x = x_row;
      for (int k = 0; k < cols; ++k, x += t.tap_step, w += output_depth) {
        const uint32_t x4 = load4(x), w4 = load4(w);
        const uint32_t x_even = even_bytes(x4), w_even = even_bytes(w4);
        const uint32_t x_odd = odd_bytes(x4), w_odd = odd_bytes(w4);
        a0 = (uint32_t)__smlabb(x_even, w_even, (int32_t)a0);
        a2 = (uint32_t)__smlatt(x_even, w_even, (int32_t)a2);
        a1 = (uint32_t)__smlabb(x_odd, w_odd, (int32_t)a1);
        a3 = (uint32_t)__smlatt(x_odd, w_odd, (int32_t)a3);
      }
    }
    out[c] = finish(q, c, a0);
    out[c + 1] = finish(q, c + 1, a1);
    out[c + 2] = finish(q, c + 2, a2);
    out[c + 3] = finish(q, c + 3, a3);
  }
#endif
  /* The depth_multiplier output channels of each input channel in turn. */
  for (; c < output_depth; ++in_c) {
    const int group_end = c + depth_multiplier;
#if !TINYML_FAST_AVR
    /* Two of them at a time share each load of a tap (on the AVR, with more registers live,
     * that would cost more than it saves). */
    for (; c + 1 < group_end; c += 2) {
      uint32_t a = folded_bias(q, c), b = folded_bias(q, c + 1);
      const int8_t *x_row = t.x + in_c, *w = filter + c;
      for (int y = 0; y < rows; ++y, x_row += t.row_step) {
        const int8_t *x = x_row;
        for (int k = 0; k < cols; ++k, x += t.tap_step, w += output_depth) {
          a = mac(a, *x, TINYML_READ_I8(&w[0]));
          b = mac(b, *x, TINYML_READ_I8(&w[1]));
        }
      }
      out[c] = finish(q, c, a);
      out[c + 1] = finish(q, c + 1, b);
    }
#endif
    for (; c < group_end; ++c) {
      uint32_t acc = folded_bias(q, c);
      const int8_t *x = t.x + in_c, *w = filter + c;
      for (int y = 0; y < rows; ++y, x += t.row_step, w += filter_row) {
        acc = strided_dot(acc, x, t.tap_step, w, output_depth, (uint16_t)cols);
      }
      out[c] = finish(q, c, acc);
    }
  }
}

void tinyml_depthwise_conv_2d_fast(const tinyml_depthwise_params *params, const int8_t *input_data,
                                   const int8_t *filter_data, const int32_t *folded_bias,
                                   int8_t *scratch, int8_t *output_data) {
  tinyml_depthwise_params p;
  TINYML_READ_PARAMS(&p, params);
  const requant_t q = TINYML_REQUANT(p, folded_bias);
  const window_t g = {p.input_height,
                      p.input_width,
                      p.filter_height,
                      p.filter_width,
                      p.dilation_height_factor,
                      p.dilation_width_factor,
                      p.input_depth,
                      p.input_depth,
                      (ptrdiff_t)p.input_width * p.input_depth,
                      (int8_t)-p.input_offset};
  /* In place: taps dilation_width pixels apart, rows dilation_height rows apart. Copied: side
   * by side, one row after the other. */
  taps_t here = {input_data, p.dilation_width_factor * g.pixel_bytes,
                 p.dilation_height_factor * g.row_bytes};
  const taps_t copied = {scratch, g.pixel_bytes, p.filter_width * g.pixel_bytes};
  const int batches = p.batches, output_height = p.output_height, output_width = p.output_width;
  const int stride_height = p.stride_height, stride_width = p.stride_width;
  const ptrdiff_t image_bytes = p.input_height * g.row_bytes;
  const int8_t *image = input_data;
  int8_t *out = output_data;

  for (int batch = 0; batch < batches; ++batch, image += image_bytes) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      const int in_y0 = out_y * stride_height - p.padding_height;
      for (int out_x = 0; out_x < output_width; ++out_x, out += p.output_depth) {
        const int in_x0 = out_x * stride_width - p.padding_width;
        const taps_t *win = &copied;
        if (inside(&g, in_y0, in_x0)) {
          here.x = image + in_y0 * g.row_bytes + in_x0 * g.pixel_bytes;
          win = &here;
        } else {
          gather_taps(&g, image, in_y0, in_x0, 0, scratch);
        }
        depthwise_pixel(&q, &p, win, filter_data, out);
      }
    }
  }
}

/* ---- MAX_POOL_2D and AVERAGE_POOL_2D --------------------------------------------------------
 * The reference's loops and arithmetic, with the window clipped to the image once per output
 * pixel (not tested tap by tap) and each channel's taps walked by pointer steps, input_depth
 * bytes apart, instead of an index multiplied out for every tap. */

/* The part of one output pixel's window that lies inside the image. */
typedef struct {
  const int8_t *x; /* its first tap, channel 0 */
  int rows, cols;
} pool_window_t;

/* Clip the window whose first tap is (in_y0, in_x0) to the image. */
TINYML_INLINE pool_window_t pool_window(const tinyml_pool_params *p, const int8_t *image, int in_y0,
                                        int in_x0) {
  const int filter_height = p->filter_height, filter_width = p->filter_width;
  const int y_start = in_y0 < 0 ? -in_y0 : 0, x_start = in_x0 < 0 ? -in_x0 : 0;
  int y_end = p->input_height - in_y0, x_end = p->input_width - in_x0;
  if (y_end > filter_height) y_end = filter_height;
  if (x_end > filter_width) x_end = filter_width;
  const pool_window_t win = {
      image + ((ptrdiff_t)(in_y0 + y_start) * p->input_width + in_x0 + x_start) * p->depth,
      y_end - y_start, x_end - x_start};
  return win;
}

static TINYML_NOINLINE void max_pool_pixel(const tinyml_pool_params *p, pool_window_t win,
                                           int8_t *out) {
  const int depth = p->depth;
  const ptrdiff_t row_step = (ptrdiff_t)p->input_width * depth;
  const int8_t act_min = p->quantized_activation_min, act_max = p->quantized_activation_max;
  for (int c = 0; c < depth; ++c) {
    int8_t max = INT8_MIN;
    const int8_t *row = win.x + c;
    for (int y = 0; y < win.rows; ++y, row += row_step) {
      const int8_t *x = row;
      for (int k = 0; k < win.cols; ++k, x += depth) {
        if (*x > max) max = *x;
      }
    }
    if (max < act_min) max = act_min;
    if (max > act_max) max = act_max;
    out[c] = max;
  }
}

/* The average of the window's part inside the image, rounded half away from zero with C's
 * truncating division, as TFLM's. Up to 255 taps the sum fits 16 bits, and so does the
 * division (a library call on the AVR, three times faster than the 32-bit one). */
static TINYML_NOINLINE void average_pool_pixel(const tinyml_pool_params *p, pool_window_t win,
                                               int8_t *out) {
  const int depth = p->depth;
  const ptrdiff_t row_step = (ptrdiff_t)p->input_width * depth;
  const int8_t act_min = p->quantized_activation_min, act_max = p->quantized_activation_max;
  const int32_t count = (int32_t)win.rows * win.cols; /* > 0: every window meets the image */
  for (int c = 0; c < depth; ++c) {
    int32_t acc = 0;
    const int8_t *row = win.x + c;
    for (int y = 0; y < win.rows; ++y, row += row_step) {
      const int8_t *x = row;
      for (int k = 0; k < win.cols; ++k, x += depth) acc += *x;
    }
    if (count <= 255) {
      const int16_t sum = (int16_t)acc, n = (int16_t)count;
      acc = sum > 0 ? (int16_t)(sum + n / 2) / n : (int16_t)(sum - n / 2) / n;
    } else {
      acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    }
    if (acc < act_min) acc = act_min;
    if (acc > act_max) acc = act_max;
    out[c] = (int8_t)acc;
  }
}

/* Both pools: the same walk over the output pixels. */
static void pool(const tinyml_pool_params *params, const int8_t *input_data, int8_t *output_data,
                 uint8_t average) {
  tinyml_pool_params p;
  TINYML_READ_PARAMS(&p, params);
  const int batches = p.batches, output_height = p.output_height, output_width = p.output_width;
  const int stride_height = p.stride_height, stride_width = p.stride_width;
  const ptrdiff_t image_bytes = (ptrdiff_t)p.input_height * p.input_width * p.depth;
  const int8_t *image = input_data;
  int8_t *out = output_data;
  for (int batch = 0; batch < batches; ++batch, image += image_bytes) {
    for (int out_y = 0; out_y < output_height; ++out_y) {
      const int in_y0 = out_y * stride_height - p.padding_height;
      for (int out_x = 0; out_x < output_width; ++out_x, out += p.depth) {
        const pool_window_t win =
            pool_window(&p, image, in_y0, out_x * stride_width - p.padding_width);
        if (average) {
          average_pool_pixel(&p, win, out);
        } else {
          max_pool_pixel(&p, win, out);
        }
      }
    }
  }
}

void tinyml_max_pool_2d_fast(const tinyml_pool_params *params, const int8_t *input_data,
                             int8_t *output_data) {
  pool(params, input_data, output_data, 0);
}

void tinyml_average_pool_2d_fast(const tinyml_pool_params *params, const int8_t *input_data,
                                 int8_t *output_data) {
  pool(params, input_data, output_data, 1);
}

/* ---- FULLY_CONNECTED ------------------------------------------------------------------------
 * Each output is the dot product of an input row with a row of the filter. */

void tinyml_fully_connected_fast(const tinyml_fully_connected_params *params,
                                 const int8_t *input_data, const int8_t *filter_data,
                                 const int32_t *folded_bias, int8_t *output_data) {
  tinyml_fully_connected_params p;
  TINYML_READ_PARAMS(&p, params);
  const requant_t q = TINYML_REQUANT(p, folded_bias);
  const int8_t *x = input_data;
  int8_t *out = output_data;
  for (uint16_t b = 0; b < p.batches; ++b, x += p.accum_depth, out += p.output_depth) {
    channels(&q, x, filter_data, p.accum_depth, 0, p.output_depth, out);
  }
}
