/* warren-spawner: warrend's helper (spawner.h), a program of its own so
 * that it is small: linked statically, every sandbox's init is a clone of
 * it. warrend starts it; it is not meant to be run by hand. */
#include "config.h"

#include <stdio.h>

#include "spawner.h"

int main(int argc, char **argv)
{
	int status = spawner_main_if_asked(argc, argv);
	if (status >= 0)
		return status;
	fprintf(stderr, "warren-spawner: warrend starts this program (see warrend(8)); it takes no options of its own\n");
	return 2;
}
