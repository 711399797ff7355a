#include "config.h"
#include "sandbox.h"
/* TODO: being written */
