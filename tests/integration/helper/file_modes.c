/* File modes of vajra_test_helper: `file STEP ARGS... [STEP ARGS...]...` makes each step's syscall
 * directly (syscall(2), so the exact syscall, flags, dirfd and name reach the kernel) and prints one
 * line per step: `step=I op=NAME ret=R errno=E` (opens add `getfl=F`, the file's F_GETFL flags).
 * A failing step does not stop the run; the test checks each line.
 *
 * FD and DIRFD are names given to fds by the steps that open them; DIRFD may also be `cwd`
 * (AT_FDCWD). FLAGS are symbols joined by '|' (O_*, AT_*, RENAME_*, XATTR_*) or numbers; numbers
 * take C prefixes (0640 is octal). umask is 0, so modes are exactly as given.
 *
 *   open FD PATH FLAGS MODE          openat FD DIRFD NAME FLAGS MODE    openat2 FD DIRFD NAME FLAGS MODE
 *   creat FD PATH MODE               dir FD PATH (O_PATH|O_DIRECTORY: no open event)
 *   write FD TEXT                    pwrite FD TEXT OFFSET              writev FD TEXT TEXT
 *   read FD                          close FD
 *   truncate PATH LEN                ftruncate FD LEN
 *   unlink PATH                      unlinkat DIRFD NAME FLAGS          rmdir PATH
 *   rename OLD NEW                   renameat2 DIRFD OLD DIRFD NEW FLAGS
 *   link OLD NEW                     linkat DIRFD OLD DIRFD NEW FLAGS
 *   symlink TARGET PATH              symlinkat TARGET DIRFD NAME
 *   mkdir PATH MODE                  mkdirat DIRFD NAME MODE
 *   chmod PATH MODE                  fchmod FD MODE                     fchmodat DIRFD NAME MODE
 *   chown PATH UID GID               fchown FD UID GID                  fchownat DIRFD NAME UID GID FLAGS
 *   setxattr PATH NAME VALUE FLAGS   fsetxattr FD NAME VALUE FLAGS
 *   removexattr PATH NAME            fremovexattr FD NAME
 *   chdir PATH
 *   wait                             print `waiting`, block until stdin has a byte or is closed
 *                                    (not numbered as a step)
 *   exit CODE                        exit now, leaving every fd open (the kernel closes them)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_FDS 32

struct named_fd {
	const char *name;
	int fd;
};

static struct named_fd fds[MAX_FDS];
static int fd_count;

static void fail(const char *what, const char *arg)
{
	fprintf(stderr, "vajra_test_helper file: %s: %s\n", what, arg);
	exit(64);
}

static int fd_of(const char *name)
{
	if (strcmp(name, "cwd") == 0)
		return AT_FDCWD;
	for (int i = fd_count - 1; i >= 0; i--) {
		if (strcmp(fds[i].name, name) == 0)
			return fds[i].fd;
	}
	fail("no fd named", name);
	return -1;
}

static void name_fd(const char *name, long fd)
{
	if (fd < 0)
		return;
	if (fd_count == MAX_FDS)
		fail("too many fds", name);
	fds[fd_count].name = name;
	fds[fd_count].fd = (int)fd;
	fd_count++;
}

static long number(const char *text)
{
	char *end = NULL;
	long value;

	errno = 0;
	value = strtol(text, &end, 0);
	if (errno != 0 || end == text || *end != '\0')
		fail("not a number", text);
	return value;
}

/* Symbols joined by '|', or numbers. */
static unsigned long flags_of(const char *text)
{
	static const struct {
		const char *name;
		unsigned long value;
	} symbols[] = {
		{"O_RDONLY", O_RDONLY},       {"O_WRONLY", O_WRONLY},
		{"O_RDWR", O_RDWR},           {"O_CREAT", O_CREAT},
		{"O_EXCL", O_EXCL},           {"O_NOCTTY", O_NOCTTY},
		{"O_TRUNC", O_TRUNC},         {"O_APPEND", O_APPEND},
		{"O_NONBLOCK", O_NONBLOCK},   {"O_DSYNC", O_DSYNC},
		{"O_SYNC", O_SYNC},           {"O_DIRECTORY", O_DIRECTORY},
		{"O_NOFOLLOW", O_NOFOLLOW},   {"O_CLOEXEC", O_CLOEXEC},
		{"O_NOATIME", O_NOATIME},     {"O_PATH", O_PATH},
		{"O_LARGEFILE", 0100000},     {"AT_REMOVEDIR", AT_REMOVEDIR},
		{"AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW},
		{"AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW},
		{"AT_EMPTY_PATH", AT_EMPTY_PATH},
		{"RENAME_NOREPLACE", RENAME_NOREPLACE},
		{"RENAME_EXCHANGE", RENAME_EXCHANGE},
		{"XATTR_CREATE", XATTR_CREATE},
		{"XATTR_REPLACE", XATTR_REPLACE},
	};
	unsigned long flags = 0;
	char *copy = strdup(text);
	char *save = NULL;

	for (char *token = strtok_r(copy, "|", &save); token; token = strtok_r(NULL, "|", &save)) {
		size_t i;

		for (i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
			if (strcmp(token, symbols[i].name) == 0)
				break;
		}
		flags |= i < sizeof(symbols) / sizeof(symbols[0]) ? symbols[i].value : (unsigned long)number(token);
	}
	free(copy);
	return flags;
}

/* Arguments a step takes after its name. */
static int arity(const char *op)
{
	static const struct {
		const char *op;
		int args;
	} table[] = {
		{"open", 4},        {"openat", 5},      {"openat2", 5},    {"creat", 3},
		{"dir", 2},         {"write", 2},       {"pwrite", 3},     {"writev", 3},
		{"read", 1},        {"close", 1},       {"truncate", 2},   {"ftruncate", 2},
		{"unlink", 1},      {"unlinkat", 3},    {"rmdir", 1},      {"rename", 2},
		{"renameat2", 5},   {"link", 2},        {"linkat", 5},     {"symlink", 2},
		{"symlinkat", 3},   {"mkdir", 2},       {"mkdirat", 3},    {"chmod", 2},
		{"fchmod", 2},      {"fchmodat", 3},    {"chown", 3},      {"fchown", 3},
		{"fchownat", 5},    {"setxattr", 4},    {"fsetxattr", 4},  {"removexattr", 2},
		{"fremovexattr", 2}, {"chdir", 1},      {"wait", 0},       {"exit", 1},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].op, op) == 0)
			return table[i].args;
	}
	return -1;
}

static long step(const char *op, char **a, int *opened)
{
	*opened = 0;
	if (strcmp(op, "open") == 0) {
		*opened = 1;
		return syscall(SYS_open, a[1], flags_of(a[2]), flags_of(a[3]));
	}
	if (strcmp(op, "openat") == 0) {
		*opened = 1;
		return syscall(SYS_openat, fd_of(a[1]), a[2], flags_of(a[3]), flags_of(a[4]));
	}
	if (strcmp(op, "openat2") == 0) {
		struct open_how how = {.flags = flags_of(a[3]), .mode = flags_of(a[4])};

		*opened = 1;
		return syscall(SYS_openat2, fd_of(a[1]), a[2], &how, sizeof(how));
	}
	if (strcmp(op, "creat") == 0) {
		*opened = 1;
		return syscall(SYS_creat, a[1], flags_of(a[2]));
	}
	if (strcmp(op, "dir") == 0) {
		*opened = 1;
		return syscall(SYS_openat, AT_FDCWD, a[1], O_PATH | O_DIRECTORY, 0);
	}
	if (strcmp(op, "write") == 0)
		return syscall(SYS_write, fd_of(a[0]), a[1], strlen(a[1]));
	if (strcmp(op, "pwrite") == 0)
		return syscall(SYS_pwrite64, fd_of(a[0]), a[1], strlen(a[1]), number(a[2]));
	if (strcmp(op, "writev") == 0) {
		struct iovec iov[2] = {{a[1], strlen(a[1])}, {a[2], strlen(a[2])}};

		return syscall(SYS_writev, fd_of(a[0]), iov, 2);
	}
	if (strcmp(op, "read") == 0) {
		char buffer[4096];

		return syscall(SYS_read, fd_of(a[0]), buffer, sizeof(buffer));
	}
	if (strcmp(op, "close") == 0)
		return syscall(SYS_close, fd_of(a[0]));
	if (strcmp(op, "truncate") == 0)
		return syscall(SYS_truncate, a[0], number(a[1]));
	if (strcmp(op, "ftruncate") == 0)
		return syscall(SYS_ftruncate, fd_of(a[0]), number(a[1]));
	if (strcmp(op, "unlink") == 0)
		return syscall(SYS_unlink, a[0]);
	if (strcmp(op, "unlinkat") == 0)
		return syscall(SYS_unlinkat, fd_of(a[0]), a[1], flags_of(a[2]));
	if (strcmp(op, "rmdir") == 0)
		return syscall(SYS_rmdir, a[0]);
	if (strcmp(op, "rename") == 0)
		return syscall(SYS_rename, a[0], a[1]);
	if (strcmp(op, "renameat2") == 0)
		return syscall(SYS_renameat2, fd_of(a[0]), a[1], fd_of(a[2]), a[3], flags_of(a[4]));
	if (strcmp(op, "link") == 0)
		return syscall(SYS_link, a[0], a[1]);
	if (strcmp(op, "linkat") == 0)
		return syscall(SYS_linkat, fd_of(a[0]), a[1], fd_of(a[2]), a[3], flags_of(a[4]));
	if (strcmp(op, "symlink") == 0)
		return syscall(SYS_symlink, a[0], a[1]);
	if (strcmp(op, "symlinkat") == 0)
		return syscall(SYS_symlinkat, a[0], fd_of(a[1]), a[2]);
	if (strcmp(op, "mkdir") == 0)
		return syscall(SYS_mkdir, a[0], flags_of(a[1]));
	if (strcmp(op, "mkdirat") == 0)
		return syscall(SYS_mkdirat, fd_of(a[0]), a[1], flags_of(a[2]));
	if (strcmp(op, "chmod") == 0)
		return syscall(SYS_chmod, a[0], flags_of(a[1]));
	if (strcmp(op, "fchmod") == 0)
		return syscall(SYS_fchmod, fd_of(a[0]), flags_of(a[1]));
	if (strcmp(op, "fchmodat") == 0)
		return syscall(SYS_fchmodat, fd_of(a[0]), a[1], flags_of(a[2]));
	if (strcmp(op, "chown") == 0)
		return syscall(SYS_chown, a[0], number(a[1]), number(a[2]));
	if (strcmp(op, "fchown") == 0)
		return syscall(SYS_fchown, fd_of(a[0]), number(a[1]), number(a[2]));
	if (strcmp(op, "fchownat") == 0)
		return syscall(SYS_fchownat, fd_of(a[0]), a[1], number(a[2]), number(a[3]), flags_of(a[4]));
	if (strcmp(op, "setxattr") == 0)
		return syscall(SYS_setxattr, a[0], a[1], a[2], strlen(a[2]), flags_of(a[3]));
	if (strcmp(op, "fsetxattr") == 0)
		return syscall(SYS_fsetxattr, fd_of(a[0]), a[1], a[2], strlen(a[2]), flags_of(a[3]));
	if (strcmp(op, "removexattr") == 0)
		return syscall(SYS_removexattr, a[0], a[1]);
	if (strcmp(op, "fremovexattr") == 0)
		return syscall(SYS_fremovexattr, fd_of(a[0]), a[1]);
	if (strcmp(op, "chdir") == 0)
		return syscall(SYS_chdir, a[0]);
	if (strcmp(op, "wait") == 0) {
		char byte;

		printf("waiting\n");
		fflush(stdout);
		while (read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR)
			;
		return 0;
	}
	if (strcmp(op, "exit") == 0) {
		fflush(stdout);
		syscall(SYS_exit_group, (int)number(a[0]));
	}
	fail("unknown step", op);
	return -1;
}

int run_file_mode(int argc, char **argv);

int run_file_mode(int argc, char **argv)
{
	if (strcmp(argv[0], "file") != 0)
		return -1;
	umask(0);
	for (int i = 1, index = 0; i < argc; index++) {
		const char *op = argv[i];
		const int args = arity(op);
		int opened = 0;
		long ret;
		int err;

		if (args < 0)
			fail("unknown step", op);
		if (i + 1 + args > argc)
			fail("missing arguments of", op);
		if (strcmp(op, "wait") == 0) { /* not a step: it makes no syscall to report */
			step(op, argv + i + 1, &opened);
			index--;
			i += 1;
			continue;
		}
		ret = step(op, argv + i + 1, &opened);
		err = ret < 0 ? errno : 0;
		printf("step=%d op=%s ret=%ld errno=%d", index, op, ret, err);
		if (opened && ret >= 0) {
			name_fd(argv[i + 1], ret);
			printf(" getfl=%ld", (long)fcntl((int)ret, F_GETFL));
		}
		printf("\n");
		fflush(stdout);
		i += 1 + args;
	}
	return 0;
}
