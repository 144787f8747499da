/* Command-line options shared by the examples: where the core is and who we are. */
#ifndef EXAMPLE_OPTIONS_H
#define EXAMPLE_OPTIONS_H

#include "linkcore.h"

/* Parses --connect HOST:PORT --cert FILE --key FILE --ca FILE [--server-name NAME] [--org CODE]
 * [--timeout-ms N] [--max-frame-bytes N] into config. The arguments it does not know stay in
 * argv[1..], in order; returns their count plus one (the new argc), or -1 after printing usage. */
int parse_options(int argc, char **argv, lc_config *config, const char *usage_extra);

/* With --connect HOST:PORT,HOST:PORT,...: gives the client every core node (lc_set_addresses). */
lc_status apply_addresses(lc_client *client);

/* Prints the reason an SDK call failed, with the core's error when it refused. */
void print_failure(const char *what, lc_client *client, lc_status status);

#endif
