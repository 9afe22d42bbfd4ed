/* fan_detector.c: see fan_detector.h. Part of the TinyML course (tinyml_helpers/fan_c). */
#include "fan_detector.h"

#include <math.h>

#include "tinyml_kernels.h"

#if FAN_AE_INPUTS != FAN_FEATURES_COUNT || FAN_AE_OUTPUTS != FAN_FEATURES_COUNT
#error "the autoencoder must take and return the 12 features"
#endif

static const float feature_mean[FAN_FEATURES_COUNT] TINYML_CONST = FAN_DETECTOR_MEAN;
static const float feature_std[FAN_FEATURES_COUNT] TINYML_CONST = FAN_DETECTOR_STD;

float fan_detector_score(const float *features, int8_t *codes_in, int8_t *codes_out) {
  float z[FAN_FEATURES_COUNT];
  for (uint8_t i = 0; i < FAN_FEATURES_COUNT; ++i) {
    z[i] = (features[i] - TINYML_READ_F32(&feature_mean[i])) / TINYML_READ_F32(&feature_std[i]);
    /* Quantize: code = round(z / scale) + zero_point, saturated to int8. */
    float steps = z[i] / FAN_AE_INPUT_SCALE;
    if (steps > 1000.0f) steps = 1000.0f; /* keep lroundf in range; clamped below anyway */
    if (steps < -1000.0f) steps = -1000.0f;
    int32_t code = (int32_t)lroundf(steps) + FAN_AE_INPUT_ZERO_POINT;
    codes_in[i] = (int8_t)(code < -128 ? -128 : code > 127 ? 127 : code);
  }
  fan_ae_invoke(codes_in, codes_out);
  float sum = 0.0f;
  for (uint8_t i = 0; i < FAN_FEATURES_COUNT; ++i) {
    /* Dequantize: z_hat = scale * (code - zero_point). */
    float d = z[i] - FAN_AE_OUTPUT_SCALE * (float)(codes_out[i] - FAN_AE_OUTPUT_ZERO_POINT);
    sum += d * d;
  }
  return sum / FAN_FEATURES_COUNT;
}

uint8_t fan_detector_is_anomaly(float score) { return score > FAN_DETECTOR_THRESHOLD; }
