#include "config.h"
#include "sandbox.h"
/* The persistent sandbox object (create, exec, destroy) for warrend lands
 * here; the one-shot run is oneshot.c, creation is spawn.c, init is init.c. */
