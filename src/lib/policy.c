#include "config.h"
#include "policy.h"
/* TODO: being written */
