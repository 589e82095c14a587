/* Socket modes of vajra_test_helper (see net_modes.c). */
#ifndef VAJRA_TEST_HELPER_NET_MODES_H
#define VAJRA_TEST_HELPER_NET_MODES_H

/* Runs the socket mode argv[0] names with its arguments; -1 when argv[0] is not one of them. */
int run_net_mode(int argc, char **argv);

#endif
