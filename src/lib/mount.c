#include "config.h"
#include "mount.h"
/* TODO: being written */
