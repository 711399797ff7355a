/* A blocking client of the Docker Engine API over its unix socket (owned by the docker backend). */
#pragma once
