#include "config.h"
#include "oci-spec.h"
