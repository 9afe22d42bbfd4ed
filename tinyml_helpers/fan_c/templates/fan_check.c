{{BANNER}}
#include "fan_check.h"

static float scratch[FAN_FEATURES_SAMPLES];

void fan_check_invoke(const float *input, float *output) {
  int8_t codes_in[FAN_FEATURES_COUNT], codes_out[FAN_FEATURES_COUNT];
  fan_window_features(input, scratch, output);
  float score = fan_detector_score(output, codes_in, codes_out);
  for (uint8_t i = 0; i < FAN_FEATURES_COUNT; ++i) {
    output[FAN_FEATURES_COUNT + i] = codes_in[i];
    output[2 * FAN_FEATURES_COUNT + i] = codes_out[i];
  }
  output[3 * FAN_FEATURES_COUNT] = score;
}
