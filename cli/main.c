/* The mgsd command: dispatches subcommands. The only place that prints for users and
 * chooses exit codes (0 success, 1 runtime failure, 2 usage error). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mgsd/mgsd.h"
#include "ops/blas.h"

static const cli_command commands[] = {
#define CLI_CMD(name, fn, help) {name, fn, help},
#include "commands.def"
#undef CLI_CMD
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
    fprintf(f, "mgsd %s - sequential recommendation with MGSD-WSS\n\nusage: mgsd <command> [options]\n\ncommands:\n",
            mgsd_version());
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`mgsd <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mgsd %s (matrix products: %s)\n", mgsd_version(), ops_blas_name());
        return 0;
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "mgsd: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
