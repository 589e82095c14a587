/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Wire format between the BPF programs and vajrad. This is the only header both sides include: every
 * record that crosses the ring buffer is defined here, and nowhere else.
 *
 * Records are variable-size: a fixed part followed by `data[]`, whose sections are laid out back to
 * back in the order the fixed part lists their lengths. All integers are host-endian.
 *
 * Path sections hold the components of a path leaf first, each NUL-terminated ("true\0bin\0usr\0" is
 * /usr/bin/true). The kernel walks dentries upward, so leaf-first lets it write forward without a
 * second pass; vajrad reverses them. An empty section is "/".
 */
#ifndef VAJRA_WIRE_H
#define VAJRA_WIRE_H

#ifdef __VMLINUX_H__
/* BPF side: fixed-width types come from vmlinux.h. */
#else
#include <linux/types.h>
#endif

#define VJ_COMM_LEN 16
#define VJ_TTY_LEN 32
#define VJ_NAME_MAX 255
/* Deepest path walked in the kernel; deeper paths are flagged VJ_PATH_TRUNCATED. */
#define VJ_PATH_MAX_DEPTH 64
/* Room for one path section: VJ_PATH_MAX_DEPTH components of at most VJ_NAME_MAX bytes would not fit,
 * so the walk also stops (and flags truncation) when the section is full. */
#define VJ_PATH_SECTION_MAX 4096
#define VJ_CGROUP_SECTION_MAX 1024
#define VJ_CGROUP_MAX_DEPTH 16
/* Upper bounds of the argv and environment copies; config picks the actual caps below these. */
#define VJ_ARGV_MAX 131072
#define VJ_ENV_MAX 32768
/* sun_path of struct sockaddr_un. */
#define VJ_UNIX_PATH_MAX 108
/* Bytes of a DNS message copied in the kernel: the classic UDP DNS limit (RFC 1035). */
#define VJ_DNS_PAYLOAD_MAX 512

enum vj_record_kind {
	VJ_REC_EXEC = 1,
	VJ_REC_EXEC_FAILED = 2,
	VJ_REC_FORK = 3,
	VJ_REC_EXIT = 4,
	VJ_REC_FILE = 5,
	VJ_REC_SOCKET = 6,
	VJ_REC_DNS = 7,
	VJ_REC_KIND_MAX = 8, /* size of per-kind counter arrays */
};

/* Flags on vj_record_header.flags. */
enum vj_record_flags {
	VJ_F_ARGV_TRUNCATED = 1 << 0,
	VJ_F_ENV_TRUNCATED = 1 << 1,
	VJ_F_EXE_TRUNCATED = 1 << 2,  /* exe path deeper or longer than the walk allows */
	VJ_F_EXE_DELETED = 1 << 3,    /* exe file unlinked */
	VJ_F_CWD_TRUNCATED = 1 << 4,
	VJ_F_CWD_DELETED = 1 << 5,
	VJ_F_CGROUP_TRUNCATED = 1 << 6,
	VJ_F_ARGV_UNREADABLE = 1 << 7, /* the new image's argv pages could not be read */
	VJ_F_THREAD = 1 << 8,          /* fork: the child is a thread; exit: a thread, not the process */
	VJ_F_PATH_TRUNCATED = 1 << 9,  /* exec_failed: the attempted path was longer than the copy */
	VJ_F_SOCK_BYTES = 1 << 10,     /* socket: bytes_sent and bytes_received are the kernel's counts */
	VJ_F_SOCK_FOLLOW_UP = 1 << 11, /* socket: outcome of an earlier in-progress connect */
};

struct vj_record_header {
	__u16 kind;  /* enum vj_record_kind */
	__u16 flags; /* enum vj_record_flags */
	__u32 size;  /* bytes of the whole record, header included */
};

struct vj_namespaces {
	__u32 pid; /* the pid namespace the task lives in (not pid_for_children) */
	__u32 mnt;
	__u32 net;
	__u32 user;
	__u32 uts;
	__u32 ipc;
	__u32 cgroup;
};

/* Who did it: the task that was current when the event fired. */
struct vj_task {
	__u64 ktime_ns;          /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
	__u64 start_boottime_ns; /* thread group leader's start, CLOCK_BOOTTIME: (pid, start) names a process */
	__u64 cgroup_id;         /* cgroup v2 id (kernfs inode) */
	__u32 pid;               /* tgid */
	__u32 tid;
	__u32 ppid;              /* real_parent's tgid */
	__u32 ns_pid;            /* tgid as seen in its own pid namespace */
	__u32 uid, euid, gid, egid;
	__u32 auid;              /* loginuid; 4294967295 when unset */
	__u32 session_id;
	struct vj_namespaces ns;
	char comm[VJ_COMM_LEN];
};

/* sched_process_exec. data[]: exe path | cwd path | cgroup path | argv (NUL-separated) | env. */
struct vj_exec_record {
	struct vj_record_header hdr;
	struct vj_task task;
	__u64 exe_ino;
	__u64 exe_size;
	__u64 exe_mtime_ns;
	__u32 exe_dev;   /* kernel dev_t of the exe's superblock */
	__u32 exe_mode;
	char tty[VJ_TTY_LEN]; /* controlling tty name, "" when none */
	__u32 exe_len;
	__u32 cwd_len;
	__u32 cgroup_len; /* leaf-first kernfs names of the v2 cgroup; empty = root cgroup */
	__u32 argv_len;
	__u32 env_len;
	__u32 argv_total; /* bytes of argv in the process (arg_end - arg_start), to say how much was lost */
	__u8 data[];
};

/* sys_exit_execve / sys_exit_execveat with a negative return. data[]: the attempted path, NUL-terminated. */
struct vj_exec_failed_record {
	struct vj_record_header hdr;
	struct vj_task task;
	__s32 error;   /* positive errno */
	__s32 dirfd;   /* execveat's dirfd; AT_FDCWD (-100) for execve */
	__u32 at_flags;
	__u32 is_execveat;
	__u32 path_len;
	__u32 pad;
	__u8 data[];
};

/* sched_process_fork, fired in the parent. */
struct vj_fork_record {
	struct vj_record_header hdr;
	struct vj_task task; /* the parent */
	__u32 child_pid;      /* tgid */
	__u32 child_tid;
	__u64 child_start_boottime_ns;
};

/* sched_process_exit. Once per process (the last thread), or per thread when threads are traced. */
struct vj_exit_record {
	struct vj_record_header hdr;
	struct vj_task task;
	__u32 exit_code; /* raw wait status: (code << 8) | signal, 0x80 = core dumped */
	__u32 pad;
};

/* ---- network family ---- */

enum vj_sock_op {
	VJ_SOCK_BIND = 1,
	VJ_SOCK_LISTEN = 2,
	VJ_SOCK_ACCEPT = 3,
	VJ_SOCK_CONNECT = 4,
	VJ_SOCK_CLOSE = 5,
	VJ_SOCK_UDP_FLOW = 6, /* first datagram of a UDP flow */
};

enum vj_sock_status {
	VJ_SOCK_SUCCEEDED = 1,
	VJ_SOCK_FAILED = 2,
	VJ_SOCK_IN_PROGRESS = 3, /* non-blocking connect: EINPROGRESS; a follow-up record gives the outcome */
	VJ_SOCK_NO_CLIENT = 4,   /* non-blocking accept: EAGAIN */
};

/* The syscall a record came from; 0 for a connect outcome seen by the kernel's TCP state machine. */
enum vj_net_syscall {
	VJ_SYS_BIND = 1,
	VJ_SYS_LISTEN = 2,
	VJ_SYS_ACCEPT = 3,
	VJ_SYS_ACCEPT4 = 4,
	VJ_SYS_CONNECT = 5,
	VJ_SYS_CLOSE = 6,
	VJ_SYS_SENDTO = 7,
	VJ_SYS_SENDMSG = 8,
	VJ_SYS_SENDMMSG = 9,
	VJ_SYS_RECVFROM = 10,
	VJ_SYS_RECVMSG = 11,
	VJ_SYS_WRITE = 12,
	VJ_SYS_WRITEV = 13,
	VJ_SYS_READ = 14,
	VJ_SYS_READV = 15,
	VJ_SYS_RECVMMSG = 16,
	VJ_SYS_EXIT = 17, /* close: the process exited holding the socket's last reference */
	VJ_SYS_EXECVE = 18, /* close: the fd was close-on-exec */
	VJ_SYS_EXECVEAT = 19,
	VJ_SYS_DUP2 = 20, /* close: another fd was duplicated onto it */
	VJ_SYS_DUP3 = 21,
};

/* One end of a socket. Unix sockets carry their sun_path bytes as a data section instead of an address. */
struct vj_sock_addr {
	__u8 addr[16];  /* IPv6; IPv4 as the v4-mapped ::ffff:a.b.c.d */
	__u16 port;     /* host order */
	__u16 path_len; /* unix: bytes of this end's path section; a leading NUL marks an abstract name */
	__u32 pad;
};

/* bind, listen, accept, connect (and its follow-up), close, and the first datagram of a UDP flow.
 * data[]: local path | remote path (unix sockets only). */
struct vj_socket_record {
	struct vj_record_header hdr;
	struct vj_task task;   /* follow-ups: the task that called connect, as it was then */
	__u64 socket_ino;      /* inode of the socket, as /proc/PID/fd shows it: socket:[ino] */
	__u64 duration_ns;     /* close: since the socket was bound, connected or accepted; follow-up: since connect */
	__u64 bytes_sent;      /* close of TCP (VJ_F_SOCK_BYTES): data bytes the peer acknowledged */
	__u64 bytes_received;  /* close of TCP (VJ_F_SOCK_BYTES): data bytes received */
	__u32 net_ns;          /* inode of the socket's network namespace */
	__s32 fd;              /* accept: the new socket's fd */
	__s32 error;           /* positive errno when failed or no_client */
	__u32 backlog;         /* listen: as requested */
	__u16 op;              /* enum vj_sock_op */
	__u16 status;          /* enum vj_sock_status */
	__u16 syscall;         /* enum vj_net_syscall */
	__u16 family;          /* AF_INET, AF_INET6, AF_UNIX */
	__u16 type;            /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol;        /* IPPROTO_TCP, IPPROTO_UDP, ...; 0 for unix */
	__u32 pad;
	struct vj_sock_addr local;
	struct vj_sock_addr remote;
	__u8 data[];
};

/* Config filters the loader writes into the network family's maps. */
#define VJ_NET_FILTER_MAX 256 /* entries per list: include/exclude ports, include/exclude CIDRs */

enum vj_port_filter {
	VJ_PORT_INCLUDE = 1 << 0,
	VJ_PORT_EXCLUDE = 1 << 1,
};

/* LPM trie key of the CIDR maps: IPv4 prefixes are stored v4-mapped, with 96 added to their length. */
struct vj_cidr_key {
	__u32 prefixlen;
	__u8 addr[16];
};

enum vj_dns_direction {
	VJ_DNS_SENT = 1,
	VJ_DNS_RECEIVED = 2,
};

/* A message to or from port 53, as the process sent or received it. data[]: the first payload_len bytes
 * of the message (TCP messages keep their 2-byte length prefix). */
struct vj_dns_record {
	struct vj_record_header hdr;
	struct vj_task task;
	__u64 socket_ino;
	__u32 net_ns;
	__u32 payload_len; /* bytes in data[], at most VJ_DNS_PAYLOAD_MAX */
	__u32 msg_len;     /* bytes the syscall moved: more than payload_len when the copy was capped */
	__u16 direction;   /* enum vj_dns_direction */
	__u16 syscall;     /* enum vj_net_syscall */
	__u16 family;
	__u16 protocol;
	__u32 pad;
	struct vj_sock_addr local;
	struct vj_sock_addr remote; /* the DNS server */
	__u8 data[];
};

/* ---- file family ---- */

/* Longest user-supplied name copied (PATH_MAX); a longer one is flagged truncated. */
#define VJ_FILE_NAME_MAX 4096
/* Bytes of an absolute name the kernel compares with the watched prefixes (an LPM trie key's limit). */
#define VJ_FIM_PREFIX_MAX 255
/* Bytes of a symlink target or xattr name copied. */
#define VJ_FILE_EXTRA_MAX 4096

/* Operations; the config's operation names map 1:1, and watch masks are 1 << op. */
enum vj_file_op {
	VJ_FILE_CREATE = 1,
	VJ_FILE_OPEN_WRITE = 2,
	VJ_FILE_MODIFY = 3, /* once per open-write-close cycle that wrote */
	VJ_FILE_TRUNCATE = 4,
	VJ_FILE_DELETE = 5, /* unlink and rmdir */
	VJ_FILE_RENAME = 6,
	VJ_FILE_LINK = 7,
	VJ_FILE_SYMLINK = 8,
	VJ_FILE_MKDIR = 9,
	VJ_FILE_CHMOD = 10,
	VJ_FILE_CHOWN = 11,
	VJ_FILE_SETXATTR = 12,
	VJ_FILE_REMOVEXATTR = 13,
	VJ_FILE_OPEN_READ = 14,
	VJ_FILE_OP_MAX = 15, /* size of per-op counter arrays */
};

enum vj_file_syscall {
	VJ_FSYS_OPEN = 1,
	VJ_FSYS_OPENAT = 2,
	VJ_FSYS_OPENAT2 = 3,
	VJ_FSYS_CREAT = 4,
	VJ_FSYS_TRUNCATE = 5,
	VJ_FSYS_FTRUNCATE = 6,
	VJ_FSYS_UNLINK = 7,
	VJ_FSYS_UNLINKAT = 8,
	VJ_FSYS_RMDIR = 9,
	VJ_FSYS_RENAME = 10,
	VJ_FSYS_RENAMEAT = 11,
	VJ_FSYS_RENAMEAT2 = 12,
	VJ_FSYS_LINK = 13,
	VJ_FSYS_LINKAT = 14,
	VJ_FSYS_SYMLINK = 15,
	VJ_FSYS_SYMLINKAT = 16,
	VJ_FSYS_MKDIR = 17,
	VJ_FSYS_MKDIRAT = 18,
	VJ_FSYS_CHMOD = 19,
	VJ_FSYS_FCHMOD = 20,
	VJ_FSYS_FCHMODAT = 21,
	VJ_FSYS_FCHMODAT2 = 22,
	VJ_FSYS_CHOWN = 23,
	VJ_FSYS_FCHOWN = 24,
	VJ_FSYS_LCHOWN = 25,
	VJ_FSYS_FCHOWNAT = 26,
	VJ_FSYS_SETXATTR = 27,
	VJ_FSYS_LSETXATTR = 28,
	VJ_FSYS_FSETXATTR = 29,
	VJ_FSYS_SETXATTRAT = 30,
	VJ_FSYS_REMOVEXATTR = 31,
	VJ_FSYS_LREMOVEXATTR = 32,
	VJ_FSYS_FREMOVEXATTR = 33,
	VJ_FSYS_REMOVEXATTRAT = 34,
	VJ_FSYS_CLOSE = 35, /* modify reported at the last close */
	VJ_FSYS_EXIT = 36,  /* modify reported when the process exited with the file still open */
	VJ_FSYS_DUP2 = 37,  /* modify reported when dup2/dup3 closed the fd it was open on */
	VJ_FSYS_DUP3 = 38,
	VJ_FSYS_CLOSE_RANGE = 39,
	VJ_FSYS_MAX = 40,
};

/* vj_file_record.path_flags */
enum vj_file_path_flags {
	VJ_FP_PATH_TRUNCATED = 1 << 0,  /* dentry path: deeper or longer than the walk allows */
	VJ_FP_PATH_DELETED = 1 << 1,    /* dentry path: the dentry is unlinked */
	VJ_FP_NAME_TRUNCATED = 1 << 2,  /* name longer than the copy, or unreadable */
	VJ_FP_PATH2_TRUNCATED = 1 << 3,
	VJ_FP_PATH2_DELETED = 1 << 4,
	VJ_FP_NAME2_TRUNCATED = 1 << 5,
	VJ_FP_EXTRA_TRUNCATED = 1 << 6,
	VJ_FP_TARGET = 1 << 7,          /* path is the target's own dentry (fd-based); else the base of name */
	VJ_FP_TARGET2 = 1 << 8,         /* the same for path2 */
	VJ_FP_ATTRS = 1 << 9,           /* ino..size describe the target after the change (read in the kernel) */
};

/*
 * One file operation. A target the kernel holds a dentry for (an fd-based call, or an open that
 * returned an fd) is written as `path`, resolved from that dentry (VJ_FP_TARGET). A target named by
 * a string (unlink, rename, chmod, ...) is `path` = its base directory resolved from its dentry (the
 * dirfd's file, the cwd, or the root for an absolute name) plus `name` as the process passed it:
 * vajrad joins and normalises the two. Rename and link have a second target (path2/name2); symlink's
 * target and the xattr name are `extra`.
 *
 * data[]: name | name2 | extra | path | path2. Names come first because the kernel reads them before
 * it decides to keep the record; the costly path walks happen only for records it keeps. Names are
 * NUL-terminated (empty section: no name); paths are leaf-first.
 */
struct vj_file_record {
	struct vj_record_header hdr;
	struct vj_task task;
	__u64 ino;           /* VJ_FP_ATTRS: the target inode after the change */
	__u64 size;
	__u64 bytes_written; /* modify: bytes the write calls returned, summed */
	__u64 writes;        /* modify: write calls that wrote */
	__u64 open_ns;       /* modify: when the file was opened, CLOCK_BOOTTIME */
	__u32 dev;           /* kernel dev_t of the target's superblock */
	__u32 mode;          /* i_mode, type bits included */
	__u32 uid;
	__u32 gid;
	__s64 result;        /* the syscall's return value; a negative errno when it failed */
	__u32 open_flags;    /* open: O_* as passed; modify: the flags the file was opened with */
	__u32 arg_mode;      /* chmod, mkdir, open with O_CREAT: the mode argument */
	__u32 arg_uid;       /* chown: requested owner; 0xffffffff leaves it unchanged */
	__u32 arg_gid;
	__u32 at_flags;      /* AT_* flags, renameat2's RENAME_* flags, xattr flags */
	__s32 fd;            /* fd-based calls; the fd an open returned */
	__u32 path_flags;    /* enum vj_file_path_flags */
	__u16 op;            /* enum vj_file_op */
	__u16 syscall;       /* enum vj_file_syscall */
	__u32 path_len;
	__u32 name_len;
	__u32 path2_len;
	__u32 name2_len;
	__u32 extra_len;
	__u32 pad;
	__u8 data[];
};

/* ---- file watch filter, filled by vajrad from the watch lists ---- */

/* A directory or file named by (superblock dev_t, inode). */
struct vj_fim_inode_key {
	__u32 dev;
	__u32 pad;
	__u64 ino;
};

struct vj_fim_dir {
	__u32 subtree_ops;  /* ops wanted on this inode and everything below it (1 << vj_file_op) */
	__u32 named_ops;    /* some children are watched by name: look them up in fim_names */
	__u32 ancestor_ops; /* watched paths lie below: a multi-component name from here may reach them */
	__u32 pad;
};

/* A child watched by name: its parent directory and the FNV-1a 64 hash of its name. */
struct vj_fim_name_key {
	__u32 dev;
	__u32 pad;
	__u64 dir_ino;
	__u64 name_hash;
};

/* Absolute names are compared with the watched prefixes as strings. */
struct vj_fim_prefix_key {
	__u32 prefixlen; /* bits */
	__u8 data[VJ_FIM_PREFIX_MAX];
};

/* Settings vajrad rewrites on every reload (one-slot array map `fim_settings`). */
struct vj_fim_settings {
	__u32 ops;         /* union of the watched operations; 0 turns the family's work off */
	__u32 host_mnt_ns; /* vajrad's mount namespace: absolute names there are compared as strings */
	__u32 flags;       /* enum vj_fim_flags */
	__u32 subtree_ops; /* union of fim_dirs' subtree_ops: other ops need no ancestor walk */
};

enum vj_fim_flags {
	/* Some watched file has hard links: calls by name that change a file in place (truncate, chmod,
	 * chown, xattrs) go to vajrad, which can tell by inode whether the file is a watched one. */
	VJ_FIM_HARDLINKS = 1 << 0,
};

#define VJ_FNV64_OFFSET 0xcbf29ce484222325ull
#define VJ_FNV64_PRIME 0x100000001b3ull

#endif /* VAJRA_WIRE_H */
