{{BANNER}}
#ifndef HARNESS_CASES_H
#define HARNESS_CASES_H

#include <stdint.h>

#include "platform.h"
{{MODEL}}
#define HARNESS_INT8 {{INT8}}
#define HARNESS_N_CASES {{N_CASES}}
#define HARNESS_N_IN {{N_IN}}
#define HARNESS_N_OUT {{N_OUT}}

static const {{CTYPE}} harness_inputs[{{N_VALUES}}] HARNESS_CONST = {{INPUTS}};

#endif /* HARNESS_CASES_H */
