{{BANNER}}
#ifndef FAN_DETECTOR_CONFIG_H
#define FAN_DETECTOR_CONFIG_H

/* Mean and standard deviation of the normal training features ({{NAMES}}). */
#define FAN_DETECTOR_MEAN {{MEAN}}
#define FAN_DETECTOR_STD {{STD}}
/* Anomaly if the score is above the {{PERCENTILE}}th percentile of the normal validation windows' scores. */
#define FAN_DETECTOR_THRESHOLD {{THRESHOLD}}

#endif /* FAN_DETECTOR_CONFIG_H */
