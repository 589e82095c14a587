/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Part of net.bpf.c: close records for reported sockets closed without close(2).
 *
 *   exit  The kernel closes a process's fds in exit_files(), after the sched_process_exit tracepoint, so
 *         the fd table is still whole there. Only the exit that drops the table's last user walks it.
 *   exec  The fds marked close-on-exec go once the new image is committed; the records are built at
 *         the syscall's entry, while the sockets exist, and reported at its exit if it succeeded.
 *   dup2  dup2 and dup3 over an fd close what it named: the same, for that one fd.
 *
 * Each time, only a socket whose file has no other reference is reported: a forked child's or a dup'd
 * fd's copy keeps it open. Not seen: fds closed by close_range(2), and a socket whose last reference
 * goes elsewhere (another process, an SCM_RIGHTS message in flight).
 */
#ifndef VAJRA_NET_CLOSE_BPF_H
#define VAJRA_NET_CLOSE_BPF_H

/* fds looked at per exit or exec, bounding the time the walk adds to a process with a huge table. */
#define VJ_CLOSE_WALK_FDS_MAX 4096
#define VJ_BITS_PER_LONG 64
/* Sockets one exec reports closed. */
#define VJ_EXEC_CLOSES_MAX 8

/* A file's reference count: f_ref since Linux 6.13, where one reference reads 0; f_count before. */
struct vj_atomic_long {
	long counter;
};
struct vj_file_ref {
	struct vj_atomic_long refcnt;
};
struct file___ref {
	struct vj_file_ref f_ref;
} __attribute__((preserve_access_index));
struct file___count {
	struct vj_atomic_long f_count;
} __attribute__((preserve_access_index));

static __always_inline bool last_file_ref(struct file *file)
{
	if (bpf_core_field_exists(struct file___ref, f_ref))
		return BPF_CORE_READ((struct file___ref *)file, f_ref.refcnt.counter) == 0;
	return BPF_CORE_READ((struct file___count *)file, f_count.counter) == 1;
}

/* The socket a closing fd names, if it is one we may have reported and nothing else holds its file. */
static __always_inline bool closing_sock(struct file *file, struct vj_sock_info *info)
{
	return vj_file_sock(file, info) && vj_family_wanted(info->family) && last_file_ref(file);
}

/* ---- closes decided at a syscall's exit ---- */

/* A close record built before the syscall that closes the socket, kept until it returns. Built in place
 * in the scratch slot. */
struct pending_close {
	__u8 rec[sizeof(struct vj_socket_record) + 2 * VJ_UNIX_PATH_MAX];
	__u64 sk;
	__u32 connecting; /* see forget_sock() */
	__u32 pad;
};

_Static_assert(sizeof(struct pending_close) <= VJ_SCRATCH_SIZE, "a pending close must fit the scratch slot");

/* exec is keyed by process: the exit of an exec called by a thread other than the leader runs with the
 * leader's tid. dup2 and dup3 are keyed by thread. */
struct pending_key {
	__u32 id;
	__u16 exec;
	__u16 slot; /* 0..VJ_EXEC_CLOSES_MAX-1, filled in order */
};

static __always_inline struct pending_key pending_key(bool exec, __u32 slot)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_key key = {.id = exec ? pid_tgid >> 32 : (__u32)pid_tgid, .exec = exec, .slot = slot};

	return key;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct pending_key);
	__type(value, struct pending_close);
} pending_closes SEC(".maps");

/* Entries in pending_closes. Nearly always 0, so every exec and dup skips the map. An entry the LRU
 * evicts stays counted: the count can only err high, which costs map operations, never a missed one. */
__u64 closes_pending = 0;

/* Keeps the close record of `info` in `slot`. */
static __always_inline int defer_close(const struct vj_sock_info *info, int fd, __u16 syscall, __u32 slot)
{
	struct pending_key key = pending_key(syscall == VJ_SYS_EXECVE || syscall == VJ_SYS_EXECVEAT, slot);
	__u32 connecting = 0;
	struct vj_socket_record *rec = close_record(info, fd, syscall, &connecting);

	if (!rec)
		return 0;
	sock_finish(rec, VJ_SOCK_SUCCEEDED, 0);
	((struct pending_close *)rec)->sk = (__u64)info->sk;
	((struct pending_close *)rec)->connecting = connecting;
	/* Counted before the entry exists, so that no exit can see it and a count of 0. */
	__sync_fetch_and_add(&closes_pending, 1);
	if (bpf_map_update_elem(&pending_closes, &key, rec, BPF_NOEXIST) == 0)
		return 1;
	__sync_fetch_and_sub(&closes_pending, 1);
	return bpf_map_update_elem(&pending_closes, &key, rec, BPF_ANY) == 0;
}

static __always_inline void drop_pending(struct pending_key *key)
{
	if (bpf_map_delete_elem(&pending_closes, key) == 0)
		__sync_fetch_and_sub(&closes_pending, 1);
}

/* Ends the chain of slots at `slot`: a slot left by an entry whose exit was missed must not be taken for
 * this call's. */
static __always_inline void end_pending(bool exec, __u32 slot)
{
	struct pending_key key = pending_key(exec, slot);

	if (*(volatile __u64 *)&closes_pending == 0)
		return;
	drop_pending(&key);
}

/* At the syscall's exit: reports the kept records if it succeeded, and drops them either way. */
static __always_inline void finish_pending(bool exec, bool succeeded)
{
	struct pending_key key = pending_key(exec, 0);

	if (*(volatile __u64 *)&closes_pending == 0)
		return;
	for (__u32 slot = 0; slot < VJ_EXEC_CLOSES_MAX; slot++) {
		struct pending_close *pending;

		key.slot = slot;
		pending = bpf_map_lookup_elem(&pending_closes, &key);
		if (!pending)
			return;
		if (succeeded) {
			struct vj_socket_record *rec = (struct vj_socket_record *)pending->rec;

			forget_sock(pending->sk, pending->connecting);
			vj_output(rec, sock_record_size(rec), VJ_REC_SOCKET);
		}
		drop_pending(&key);
	}
}

/* ---- walking an fd table: exit and exec ---- */

/* A global function, verified once on its own: inlined, the verifier would walk the close path once for
 * every bit of the loop in close_walk_word(). Exit reports the close of the socket at `fd`; exec keeps
 * its record in `slot`, and returns 1 when it did. */
__noinline int close_walk_fd(__u64 fds, __u32 fd, __u32 syscall, __u32 slot)
{
	struct vj_sock_info info = {};
	struct file *file = NULL;

	if (bpf_probe_read_kernel(&file, sizeof(file), (struct file **)fds + fd) || !closing_sock(file, &info))
		return 0;
	if (syscall != VJ_SYS_EXIT)
		return defer_close(&info, (int)fd, syscall, slot);
	close_sock(&info, (int)fd, VJ_SYS_EXIT);
	return 0;
}

struct close_walk {
	struct file **fds;
	unsigned long *bitmap; /* open_fds for exit, close_on_exec for exec */
	__u32 syscall;
	__u32 slots; /* records kept so far */
};

/* bpf_loop callback: the fds of one word of the bitmap. */
static long close_walk_word(__u64 index, struct close_walk *walk)
{
	unsigned long bits = 0;

	if (bpf_probe_read_kernel(&bits, sizeof(bits), &walk->bitmap[index]))
		return 1;
	for (__u32 bit = 0; bit < VJ_BITS_PER_LONG && bits; bit++, bits >>= 1) {
		if (walk->slots >= VJ_EXEC_CLOSES_MAX)
			return 1;
		if (bits & 1)
			walk->slots += close_walk_fd((__u64)walk->fds, index * VJ_BITS_PER_LONG + bit, walk->syscall,
						     walk->slots);
	}
	return 0;
}

/* Walks the fds of `fdt` whose bit is set in `bitmap`; returns the records kept. */
static __always_inline __u32 close_walk(struct fdtable *fdt, unsigned long *bitmap, __u16 syscall)
{
	/* Read with helpers: a pointer loaded through BTF may not be handed to close_walk_fd(). */
	struct close_walk walk = {.fds = BPF_CORE_READ(fdt, fd), .bitmap = bitmap, .syscall = syscall};
	__u32 max_fds = BPF_CORE_READ(fdt, max_fds);

	if (max_fds > VJ_CLOSE_WALK_FDS_MAX)
		max_fds = VJ_CLOSE_WALK_FDS_MAX;
	bpf_loop((max_fds + VJ_BITS_PER_LONG - 1) / VJ_BITS_PER_LONG, close_walk_word, &walk, 0);
	return walk.slots;
}

/* Fires once per exiting thread; threads share one fd table, so its count says which one is last. */
SEC("tp/sched/sched_process_exit")
int handle_exit_close(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;

	if (!files || files->count.counter != 1)
		return 0;
	close_walk(files->fdt, BPF_CORE_READ(files, fdt, open_fds), VJ_SYS_EXIT);
	return 0;
}

/* exec ends the other threads before it closes anything, so a table shared only with them is as good as
 * private; one shared with another process keeps its fds open. */
static __always_inline void enter_exec(__u16 syscall)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;

	if (!files || files->count.counter > task->signal->nr_threads) {
		end_pending(true, 0);
		return;
	}
	end_pending(true, close_walk(files->fdt, BPF_CORE_READ(files, fdt, close_on_exec), syscall));
}

SEC("tp/syscalls/sys_enter_execve")
int handle_execve_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_exec(VJ_SYS_EXECVE);
	return 0;
}

SEC("tp/syscalls/sys_exit_execve")
int handle_execve_close_exit(struct trace_event_raw_sys_exit *ctx)
{
	finish_pending(true, ctx->ret == 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_execveat")
int handle_execveat_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_exec(VJ_SYS_EXECVEAT);
	return 0;
}

SEC("tp/syscalls/sys_exit_execveat")
int handle_execveat_close_exit(struct trace_event_raw_sys_exit *ctx)
{
	finish_pending(true, ctx->ret == 0);
	return 0;
}

/* ---- dup2, dup3 ---- */

static __always_inline void enter_dup(int oldfd, int newfd, __u16 syscall)
{
	struct vj_sock_info info = {};
	struct file *file;

	/* dup2 of an fd onto itself closes nothing; dup3 refuses it. */
	if (oldfd != newfd) {
		file = vj_fd_file((struct task_struct *)bpf_get_current_task(), newfd);
		if (closing_sock(file, &info) && defer_close(&info, newfd, syscall, 0)) {
			end_pending(false, 1);
			return;
		}
	}
	end_pending(false, 0);
}

SEC("tp/syscalls/sys_enter_dup2")
int handle_dup2_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_dup((int)ctx->args[0], (int)ctx->args[1], VJ_SYS_DUP2);
	return 0;
}

SEC("tp/syscalls/sys_exit_dup2")
int handle_dup2_exit(struct trace_event_raw_sys_exit *ctx)
{
	finish_pending(false, ctx->ret >= 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_dup3")
int handle_dup3_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_dup((int)ctx->args[0], (int)ctx->args[1], VJ_SYS_DUP3);
	return 0;
}

SEC("tp/syscalls/sys_exit_dup3")
int handle_dup3_exit(struct trace_event_raw_sys_exit *ctx)
{
	finish_pending(false, ctx->ret >= 0);
	return 0;
}

#endif /* VAJRA_NET_CLOSE_BPF_H */
