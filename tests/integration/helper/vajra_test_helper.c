/* vajra_test_helper: the real-kernel tests exec this to make exact syscalls happen.
 *
 *   exit N                      exit with code N (extra arguments are ignored, so tests can pad argv)
 *   sleep-then-exit MS N        sleep MS milliseconds, then exit N
 *   fork-child-exit N           fork; the child exits N; prints the child's pid, waits for it, exits 0
 *   fork-child-sleep MS         the same, the child sleeping MS milliseconds first and exiting 0
 *   kill-self SIG               send itself SIG (exits by it when SIG is fatal)
 *   threads N                   start N threads, join them, exit 0 (one process exit, N thread exits)
 *   exec PATH ARGS...           execv(PATH, [ARGS...]); on failure prints errno and exits 127
 *   exec-missing [PATH]         execve a path that does not exist, print errno, exit 0
 *   wait-stdin MODE ARGS...     block until stdin has a byte or is closed, then run MODE ARGS...
 *   tcp-session, connect-nonblock, accept-nonblock, udp-flows, unix-session, dns-query,
 *   dns-query-tcp, dns-garbage: see net_modes.c
 *   file STEP ARGS...: see file_modes.c
 *
 * Anything the tests need to read (child pids, errno values) goes to stdout, one value per line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net_modes.h"

int run_file_mode(int argc, char **argv); /* file_modes.c */

extern char **environ;

static int usage(void)
{
	fprintf(stderr,
		"usage: vajra_test_helper exit N | sleep-then-exit MS N | fork-child-exit N |\n"
		"       fork-child-sleep MS | kill-self SIG | threads N | exec PATH ARGS... |\n"
		"       exec-missing [PATH] | wait-stdin MODE ARGS... |\n"
		"       tcp-session ADDR OUT BACK | connect-nonblock ADDR listening|closed|backlogged |\n"
		"       accept-nonblock ADDR |\n"
		"       udp-flows ADDR COUNT | unix-session PATH|@NAME | dns-query SERVER NAME A|AAAA |\n"
		"       dns-query-tcp SERVER NAME | dns-garbage SERVER | file STEP ARGS...\n");
	return 64;
}

static int number(const char *text, long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtol(text, &end, 10);
	return errno == 0 && end != text && *end == '\0';
}

static void *thread_main(void *arg)
{
	(void)arg;
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Forks a child that sleeps `child_sleep_ms`, then exits `child_code`; prints its pid and waits. */
static int fork_child(long child_sleep_ms, int child_code)
{
	pid_t child = fork();
	int status = 0;

	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		if (child_sleep_ms > 0)
			sleep_ms(child_sleep_ms);
		_exit(child_code);
	}
	printf("%d\n", (int)child);
	fflush(stdout);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static int run(int argc, char **argv)
{
	long a = 0, b = 0;

	if (argc < 1)
		return usage();
	const char *mode = argv[0];

	if (strcmp(mode, "exit") == 0 && argc >= 2 && number(argv[1], &a)) {
		exit((int)a);
	} else if (strcmp(mode, "sleep-then-exit") == 0 && argc >= 3 && number(argv[1], &a) && number(argv[2], &b)) {
		sleep_ms(a);
		exit((int)b);
	} else if (strcmp(mode, "fork-child-exit") == 0 && argc >= 2 && number(argv[1], &a)) {
		return fork_child(0, (int)a);
	} else if (strcmp(mode, "fork-child-sleep") == 0 && argc >= 2 && number(argv[1], &a)) {
		return fork_child(a, 0);
	} else if (strcmp(mode, "kill-self") == 0 && argc >= 2 && number(argv[1], &a)) {
		kill(getpid(), (int)a);
		/* A blocked or ignored signal lands here. */
		return 1;
	} else if (strcmp(mode, "threads") == 0 && argc >= 2 && number(argv[1], &a) && a >= 0 && a <= 256) {
		pthread_t threads[256];

		for (long i = 0; i < a; i++) {
			if (pthread_create(&threads[i], NULL, thread_main, NULL) != 0) {
				fprintf(stderr, "pthread_create failed\n");
				return 1;
			}
		}
		for (long i = 0; i < a; i++)
			pthread_join(threads[i], NULL);
		return 0;
	} else if (strcmp(mode, "exec") == 0 && argc >= 3) {
		execv(argv[1], argv + 2);
		printf("%d\n", errno);
		return 127;
	} else if (strcmp(mode, "exec-missing") == 0) {
		const char *path = argc >= 2 ? argv[1] : "/nonexistent/vajra-test-missing";
		char *args[] = {(char *)path, NULL};

		execve(path, args, environ);
		printf("%d\n", errno);
		return 0;
	} else if (strcmp(mode, "wait-stdin") == 0 && argc >= 2) {
		char byte;

		while (read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR)
			;
		return run(argc - 1, argv + 1);
	}
	int net = run_net_mode(argc, argv);

	if (net < 0)
		net = run_file_mode(argc, argv);
	return net >= 0 ? net : usage();
}

int main(int argc, char **argv)
{
	return run(argc - 1, argv + 1);
}
