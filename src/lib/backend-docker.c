/* Placeholder until the docker backend lands: every operation says so. */
#include "config.h"

#include "backend.h"

static int unavailable_init(const struct backend_settings *s, wr_error *e)
{
	(void)s;
	return wr_error_set(e, ENOSYS, "the docker backend is not built yet");
}

static int unavailable_health(wr_error *e)
{
	return wr_error_set(e, ENOSYS, "the docker backend is not built yet");
}

const struct backend_ops backend_docker_ops = {
	.name = "docker",
	.init = unavailable_init,
	.health = unavailable_health,
};
