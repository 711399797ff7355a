#include "config.h"
#include "net.h"
/* TODO: being written */
