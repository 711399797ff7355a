#include "config.h"
#include "caps.h"
/* TODO: being written */
