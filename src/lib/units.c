#include "config.h"
#include "units.h"
/* TODO: being written */
