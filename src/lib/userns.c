#include "config.h"
#include "userns.h"
/* TODO: being written */
