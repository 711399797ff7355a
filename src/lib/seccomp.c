#include "config.h"
#include "seccomp.h"
/* TODO: being written */
