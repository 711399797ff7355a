#include "config.h"
#include "cli.h"
int cmd_policy(int argc, char **argv) { (void)argc; (void)argv; return 125; }
