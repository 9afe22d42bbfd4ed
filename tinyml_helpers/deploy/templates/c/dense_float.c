/* layer {{I}}: {{N_IN}} -> {{N_OUT}}, {{ACTIVATION}} */
static const float w{{I}}[{{N_WEIGHTS}}] TINYML_CONST = {{WEIGHTS}};
static const float b{{I}}[{{N_OUT}}] TINYML_CONST = {{BIAS}};

