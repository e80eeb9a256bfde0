/* `mgsd synth`: generate synthetic interactions with planted noise (see docs/data.md). */
#include "cli.h"
int cli_cmd_synth(int argc, char **argv) { (void)argc; (void)argv; return 2; }
