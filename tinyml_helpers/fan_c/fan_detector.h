/* fan_detector.h: lesson 07's anomaly detector after the features: standardize, run the int8
 * autoencoder (fan_ae.c, generated), measure the reconstruction error, compare.
 *
 * Part of the TinyML course (tinyml_helpers/fan_c). The scaler's mean and standard deviation, the
 * threshold and the autoencoder come from the generated fan_detector_config.h and fan_ae.c.
 */
#ifndef FAN_DETECTOR_H
#define FAN_DETECTOR_H

#include <stdint.h>

#include "fan_ae.h"
#include "fan_detector_config.h" /* generated: FAN_DETECTOR_MEAN/STD/THRESHOLD */
#include "fan_features.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The anomaly score of one feature vector: the mean squared difference between the
 * standardized features z and the autoencoder's reconstruction of them. codes_in and
 * codes_out (FAN_FEATURES_COUNT each) receive the int8 codes that went in and came out. */
float fan_detector_score(const float *features, int8_t *codes_in, int8_t *codes_out);

/* 1 if score is above the threshold picked on normal validation windows, else 0. */
uint8_t fan_detector_is_anomaly(float score);

#ifdef __cplusplus
}
#endif

#endif /* FAN_DETECTOR_H */
