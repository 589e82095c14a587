/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file family's open-write-close cycles (see file.bpf.c): the tracked files, the writes that add
 * to them, and the ends of a cycle (last close, dup2/dup3 over its fd, close_range, process exit).
 * Included by file.bpf.c once its record helpers are defined.
 */
#ifndef VAJRA_FILE_CYCLE_BPF_H
#define VAJRA_FILE_CYCLE_BPF_H

/* ---- open-write-close cycles ---- */

struct open_file {
	__u64 inode;        /* tells a recycled struct file from the one tracked */
	__u64 open_ns;
	__u64 mtime_ns;     /* at open, to see content changed without write calls */
	__u64 bytes;
	__u64 writes;
	__u32 tgid;         /* the opener: its exit reports cycles it leaves open */
	__u32 pad;
};

/* Keyed by struct file. LRU: a file closed implicitly (exec, dup2, close_range) leaves its entry,
 * which ages out; a live entry is evicted only with more watched files open for write at once than
 * the map holds. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct open_file);
} open_files SEC(".maps");

/* Entries in open_files (approximately: evictions are not seen). While it is 0, the write hooks
 * return at once. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} open_files_count SEC(".maps");

static __always_inline __s64 *tracked_count(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&open_files_count, &zero);
}

/* ---- modify: writes, last close, exit ---- */

static __always_inline bool any_tracked(void)
{
	__s64 *count = tracked_count();

	return count && *count > 0;
}

/* A write that wrote to a tracked file adds to its cycle. */
static __always_inline void exit_write(int fd, long ret)
{
	struct open_file *entry;
	struct file *file;
	__u64 key;

	if (ret <= 0 || !any_tracked())
		return;
	file = vj_fd_file((struct task_struct *)bpf_get_current_task(), fd);
	key = (__u64)file;
	entry = file ? bpf_map_lookup_elem(&open_files, &key) : NULL;
	if (!entry)
		return;
	__sync_fetch_and_add(&entry->bytes, ret);
	__sync_fetch_and_add(&entry->writes, 1);
}

/* Since 6.13 f_ref is a file_ref_t whose count is references minus one; before, f_count counted them. */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline bool last_reference(struct file *file)
{
	if (bpf_core_field_exists(file->f_ref))
		return BPF_CORE_READ(file, f_ref.refcnt.counter) == 0;
	return BPF_CORE_READ((struct file___f_count *)file, f_count.counter) == 1;
}

/* Ends a tracked cycle whose file is losing its last reference; reports it if the content changed. */
static __noinline void end_cycle(struct file *file, int fd, __u16 syscall)
{
	__u64 key = (__u64)file;
	struct open_file *tracked = bpf_map_lookup_elem(&open_files, &key);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct vj_file_record *rec;
	struct open_file entry;
	struct path target;
	__s64 *count;

	bool same;

	if (!tracked)
		return;
	/* The tracked file was opened for write; a struct file freed unseen (exec closing it, say) and
	 * reused for another open of the same inode is told apart by its mode. */
	same = tracked->inode == BPF_CORE_READ(inode, i_ino) && (BPF_CORE_READ(file, f_mode) & VJ_FMODE_WRITE);
	if (same && !last_reference(file))
		return; /* another fd or process still holds it: the cycle goes on */
	entry = *tracked;
	bpf_map_delete_elem(&open_files, &key);
	count = tracked_count();
	if (count)
		__sync_fetch_and_add(count, -1);
	if (!same)
		return; /* the tracked cycle ended unseen */
	if (entry.writes == 0 && entry.mtime_ns == vj_inode_mtime_ns(inode))
		return;
	if (!read_path(&target, &file->f_path))
		return;
	rec = new_record(VJ_FILE_MODIFY, syscall);
	if (!rec)
		return;
	keep_record(rec);
	rec->fd = fd;
	rec->open_flags = BPF_CORE_READ(file, f_flags);
	rec->bytes_written = entry.bytes;
	rec->writes = entry.writes;
	rec->open_ns = entry.open_ns;
	rec->path_flags = VJ_FP_TARGET;
	put_attrs(rec, inode);
	send_record(rec, &target, NULL);
}

SEC("tp/syscalls/sys_enter_close")
int handle_file_close(struct trace_event_raw_sys_enter *ctx)
{
	int fd = (int)ctx->args[0];
	struct file *file;

	if (!any_tracked())
		return 0;
	file = vj_fd_file((struct task_struct *)bpf_get_current_task(), fd);
	if (file)
		end_cycle(file, fd, VJ_FSYS_CLOSE);
	return 0;
}

/* dup2 and dup3 close the file newfd named, if any, before reusing it (shells redirect output so). */
static __always_inline void end_cycle_of_fd(int fd, __u16 syscall)
{
	struct file *file;

	if (!any_tracked())
		return;
	file = vj_fd_file((struct task_struct *)bpf_get_current_task(), fd);
	if (file)
		end_cycle(file, fd, syscall);
}

SEC("tp/syscalls/sys_enter_dup2")
int handle_file_dup2(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] != ctx->args[1])
		end_cycle_of_fd((int)ctx->args[1], VJ_FSYS_DUP2);
	return 0;
}

SEC("tp/syscalls/sys_enter_dup3")
int handle_file_dup3(struct trace_event_raw_sys_enter *ctx)
{
	end_cycle_of_fd((int)ctx->args[1], VJ_FSYS_DUP3);
	return 0;
}

/* Ranges of fds going away at once: close_range(), and the whole table when a process exits (the
 * exit tracepoint fires before exit_files(), so the table is still there). */
#define VJ_FD_SCAN_MAX 4096
#define VJ_CLOSE_RANGE_CLOEXEC (1 << 2)

struct fd_scan {
	struct file **fds;
	__u32 first;
	__u32 end; /* one past the last fd */
	__u16 syscall;
};

static long scan_fd(__u64 index, struct fd_scan *scan)
{
	__u64 fd = scan->first + index;
	struct file *file = NULL;
	__u64 key;

	if (fd >= scan->end)
		return 1;
	if (bpf_probe_read_kernel(&file, sizeof(file), &scan->fds[fd]) || !file)
		return 0;
	key = (__u64)file;
	if (bpf_map_lookup_elem(&open_files, &key))
		end_cycle(file, (int)fd, scan->syscall);
	return 0;
}

static __always_inline void end_cycles_in_range(__u32 first, __u64 last, __u16 syscall)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	__u32 max_fds = BPF_CORE_READ(fdt, max_fds);
	struct fd_scan scan = {.fds = BPF_CORE_READ(fdt, fd), .first = first, .syscall = syscall};

	scan.end = last < max_fds ? last + 1 : max_fds; /* last may be ~0: no + 1 before the compare */
	if (scan.end > first)
		bpf_loop(scan.end - first < VJ_FD_SCAN_MAX ? scan.end - first : VJ_FD_SCAN_MAX, scan_fd, &scan, 0);
}

SEC("tp/syscalls/sys_enter_close_range")
int handle_file_close_range(struct trace_event_raw_sys_enter *ctx)
{
	if (any_tracked() && !(ctx->args[2] & VJ_CLOSE_RANGE_CLOEXEC))
		end_cycles_in_range((__u32)ctx->args[0], ctx->args[1], VJ_FSYS_CLOSE_RANGE);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_file_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (any_tracked() && BPF_CORE_READ(task, signal, live.counter) == 0)
		end_cycles_in_range(0, ~0ull, VJ_FSYS_EXIT);
	return 0;
}

#endif /* VAJRA_FILE_CYCLE_BPF_H */
