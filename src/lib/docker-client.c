#include "config.h"
#include "docker-client.h"
