/* layer {{I}}: {{N_IN}} -> {{N_OUT}}, {{ACTIVATION}} */
static const int8_t w{{I}}[{{N_WEIGHTS}}] TINYML_CONST = {{WEIGHTS}};
static const int32_t b{{I}}[{{N_OUT}}] TINYML_CONST = {{BIAS}};
static const int32_t m{{I}}[{{N_OUT}}] TINYML_CONST = {{MULTIPLIER}};
static const int8_t s{{I}}[{{N_OUT}}] TINYML_CONST = {{SHIFT}};

