/* fan_features.h: the 12 vibration features of lesson 07, computed on a microcontroller.
 *
 * Part of the TinyML course (tinyml_helpers/fan_c). Plain C99, no allocation, no libraries beyond
 * <math.h>. Per axis of a 1-second accelerometer window (in g):
 *   rms        root mean square after removing the window's mean (gravity);
 *   mad        median absolute deviation: median of |x - median(x)|;
 *   peak_1x    largest DFT amplitude 2|X_k|/N over the once-per-revolution bins;
 *   peak_blade largest DFT amplitude over the blade-pass bins.
 * The same definitions as tinyml_helpers.vibration.features (NumPy), which the tests compare
 * against. The window length, the bins and the Goertzel coefficients come from the generated
 * fan_features_config.h.
 */
#ifndef FAN_FEATURES_H
#define FAN_FEATURES_H

#include <stdint.h>

#include "fan_features_config.h" /* generated: FAN_FEATURES_SAMPLES, bins, coefficients */

#ifdef __cplusplus
extern "C" {
#endif

#define FAN_FEATURES_AXES 3
#define FAN_FEATURES_COUNT 12 /* 4 kinds x 3 axes, ordered rms_x rms_y rms_z mad_x ... */

/* Features of one axis. samples[FAN_FEATURES_SAMPLES] in time order, in g; the array is
 * reordered (the medians are found in place), so pass a copy you no longer need. */
void fan_axis_features(float *samples, float *rms, float *mad, float *peak_1x, float *peak_blade);

/* Features of a whole window: window[n * 3 + axis] holds sample n of axis x, y or z (as an
 * accelerometer delivers them); scratch holds FAN_FEATURES_SAMPLES floats; features gets
 * FAN_FEATURES_COUNT values. */
void fan_window_features(const float *window, float *scratch, float *features);

#ifdef __cplusplus
}
#endif

#endif /* FAN_FEATURES_H */
