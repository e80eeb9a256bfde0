/* Shared declarations for the mgsd command's subcommands. */
#ifndef MGSD_CLI_H
#define MGSD_CLI_H

typedef int (*cli_fn)(int argc, char **argv);
typedef struct cli_command {
    const char *name;
    cli_fn fn;
    const char *help;
} cli_command;

#define CLI_CMD(name, fn, help) int fn(int argc, char **argv);
#include "commands.def"
#undef CLI_CMD

#endif
