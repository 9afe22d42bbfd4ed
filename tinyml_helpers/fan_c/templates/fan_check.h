{{BANNER}}
#ifndef FAN_CHECK_H
#define FAN_CHECK_H

#include "fan_detector.h"

#define FAN_CHECK_INPUTS {{INPUTS}} /* FAN_FEATURES_SAMPLES * FAN_FEATURES_AXES */
#define FAN_CHECK_OUTPUTS {{OUTPUTS}} /* 3 * FAN_FEATURES_COUNT + 1 */
#if FAN_CHECK_INPUTS != FAN_FEATURES_SAMPLES * FAN_FEATURES_AXES
#error "fan_check.h does not match fan_features_config.h"
#endif

/* Run the detector on one window (interleaved x, y, z in g) and report every stage:
 * output = 12 features, 12 codes in, 12 codes out (as floats), the score. */
void fan_check_invoke(const float *input, float *output);

#endif /* FAN_CHECK_H */
