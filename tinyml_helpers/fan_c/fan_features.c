/* fan_features.c: see fan_features.h. Part of the TinyML course (tinyml_helpers/fan_c).
 *
 * Cost per axis of N samples: two passes for the mean and RMS, one Goertzel pass per DFT bin
 * (one multiply and two adds per sample), and two in-place selections for the medians
 * (about 2N-4N comparisons each, instead of sorting).
 */
#include "fan_features.h"

#include <math.h>

#include "tinyml_kernels.h" /* TINYML_CONST / TINYML_READ_F32: constants stay in flash on AVR */

static const float goertzel_coeff[FAN_FEATURES_LAST_BIN - FAN_FEATURES_FIRST_BIN + 1] TINYML_CONST =
    FAN_FEATURES_COEFFS;

/* Largest |X_k|^2 for bins first..last of x[n] - mean, with the Goertzel recurrence
 * s[n] = x[n] + c s[n-1] - s[n-2], c = 2 cos(2 pi k / N); then
 * |X_k|^2 = s[N-1]^2 + s[N-2]^2 - c s[N-1] s[N-2]. */
static float band_power(const float *x, float mean, uint8_t first, uint8_t last) {
  float best = 0.0f;
  for (uint8_t k = first; k <= last; ++k) {
    float c = TINYML_READ_F32(&goertzel_coeff[k - FAN_FEATURES_FIRST_BIN]);
    float s1 = 0.0f, s2 = 0.0f;
    for (uint16_t n = 0; n < FAN_FEATURES_SAMPLES; ++n) {
      float s0 = (x[n] - mean) + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    float power = s1 * s1 + s2 * s2 - c * s1 * s2;
    if (power > best) best = power;
  }
  return best;
}

/* Rearrange a[0..n-1] so that a[k] holds the value sorting would put there, with nothing
 * larger before it and nothing smaller after it (Hoare's selection, "quickselect"). */
static void select_kth(float *a, int16_t n, int16_t k) {
  int16_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float pivot = a[k];
    int16_t i = lo, j = hi;
    do {
      while (a[i] < pivot) ++i;
      while (pivot < a[j]) --j;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        ++i;
        --j;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
}

/* The median of a[0..n-1] (reordered), averaging the two middle values when n is even. */
static float median(float *a, int16_t n) {
  int16_t half = n / 2;
  select_kth(a, n, half);
  float upper = a[half];
  if (n % 2) return upper;
  float lower = a[0]; /* the largest value left of a[half] is the other middle value */
  for (int16_t i = 1; i < half; ++i) {
    if (a[i] > lower) lower = a[i];
  }
  return (lower + upper) * 0.5f;
}

void fan_axis_features(float *samples, float *rms, float *mad, float *peak_1x, float *peak_blade) {
  const uint16_t n = FAN_FEATURES_SAMPLES;
  float sum = 0.0f;
  for (uint16_t i = 0; i < n; ++i) sum += samples[i];
  float mean = sum / n;
  float squares = 0.0f;
  for (uint16_t i = 0; i < n; ++i) {
    float d = samples[i] - mean;
    squares += d * d;
  }
  *rms = sqrtf(squares / n);

  /* The DFT bins need the samples in time order: before the medians reorder them. */
  float scale = 2.0f / n; /* amplitude of a bin = 2 |X_k| / N */
  *peak_1x = scale * sqrtf(band_power(samples, mean, FAN_FEATURES_1X_FIRST, FAN_FEATURES_1X_LAST));
  *peak_blade =
      scale * sqrtf(band_power(samples, mean, FAN_FEATURES_BLADE_FIRST, FAN_FEATURES_BLADE_LAST));

  float middle = median(samples, (int16_t)n);
  for (uint16_t i = 0; i < n; ++i) samples[i] = fabsf(samples[i] - middle);
  *mad = median(samples, (int16_t)n);
}

void fan_window_features(const float *window, float *scratch, float *features) {
  for (uint8_t axis = 0; axis < FAN_FEATURES_AXES; ++axis) {
    for (uint16_t i = 0; i < FAN_FEATURES_SAMPLES; ++i) {
      scratch[i] = window[(uint32_t)i * FAN_FEATURES_AXES + axis];
    }
    fan_axis_features(scratch, &features[axis], &features[3 + axis], &features[6 + axis],
                      &features[9 + axis]);
  }
}
