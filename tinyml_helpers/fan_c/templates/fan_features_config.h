{{BANNER}}
#ifndef FAN_FEATURES_CONFIG_H
#define FAN_FEATURES_CONFIG_H

/* {{SAMPLES}} samples per axis at {{RATE}} Hz: DFT bin k is k * {{BIN_HZ}} Hz. */
#define FAN_FEATURES_SAMPLES {{SAMPLES}}
#define FAN_FEATURES_COUNTS_PER_G {{COUNTS_PER_G}}
/* once per revolution: {{ONE_X_BAND}} Hz; blade pass: {{BLADE_BAND}} Hz */
#define FAN_FEATURES_1X_FIRST {{ONE_X_FIRST}}
#define FAN_FEATURES_1X_LAST {{ONE_X_LAST}}
#define FAN_FEATURES_BLADE_FIRST {{BLADE_FIRST}}
#define FAN_FEATURES_BLADE_LAST {{BLADE_LAST}}
#define FAN_FEATURES_FIRST_BIN {{FIRST}}
#define FAN_FEATURES_LAST_BIN {{LAST}}
/* Goertzel coefficients 2 cos(2 pi k / N), k = {{FIRST}} .. {{LAST}} */
#define FAN_FEATURES_COEFFS {{COEFFS}}

#endif /* FAN_FEATURES_CONFIG_H */
