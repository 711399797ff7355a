#include "config.h"
#include "cgroup.h"
/* TODO: being written */
