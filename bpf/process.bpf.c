// SPDX-License-Identifier: GPL-2.0
/*
 * The process family: exec, exec_failed, fork and exit records (layouts in vajra_wire.h). Built on
 * tracepoints alone, because kprobes, fentry and LSM hooks are missing on many hosts; fork uses tp_btf
 * since only the BTF tracepoint hands over the child's task_struct.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vajra_wire.h"

#include "cgroup.bpf.h"
#include "inode.bpf.h"
#include "path.bpf.h"
#include "task.bpf.h"

/* The largest record is an exec with every section full; the walk slack follows the last section. */
#define VJ_EXEC_DATA_MAX (2 * VJ_PATH_SECTION_MAX + VJ_CGROUP_SECTION_MAX + VJ_ARGV_MAX + VJ_ENV_MAX)
#define VJ_SCRATCH_SIZE (sizeof(struct vj_exec_record) + VJ_EXEC_DATA_MAX + VJ_WALK_SLACK)
#include "emit.bpf.h"

_Static_assert(sizeof(struct vj_exec_failed_record) + VJ_PATH_SECTION_MAX + 1 <= VJ_SCRATCH_SIZE,
	       "a failed exec's path read must fit the scratch slot");

#define VJ_AT_FDCWD (-100)

/* Set by the loader before load; the verifier then treats them as constants. */
const volatile __u32 argv_max_bytes = 4096;
const volatile __u32 env_max_bytes = 4096;
const volatile bool trace_threads = false;

/* ---- exec ---- */

/*
 * Copies the block [start, end) of the current task's memory (argv or environment, which exec has just
 * written to the new stack, so its pages are present), at most `cap` bytes. Returns the bytes copied;
 * sets *capped when the block is longer than the copy and *failed when it cannot be read.
 */
static __always_inline __u64 copy_user_block(__u8 *dst, __u64 start, __u64 end, __u32 cap, __u32 hard_max,
					     bool *capped, bool *failed)
{
	__u64 total = end > start ? end - start : 0;
	__u64 size = total;

	if (cap > hard_max)
		cap = hard_max;
	if (size > cap) {
		size = cap;
		*capped = true;
	}
	/* Bounded again after hiding the value from the compiler: the verifier needs the check itself. */
	barrier_var(size);
	if (size > hard_max)
		size = hard_max;
	if (size == 0)
		return 0;
	if (bpf_probe_read_user(dst, size, (const void *)start)) {
		*failed = true;
		return 0;
	}
	return size;
}

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct vj_exec_record *rec = vj_scratch(VJ_REC_EXEC);
	/* BTF pointers: direct loads, where a probe read costs a helper call per field. */
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	struct file *exe = mm->exe_file;
	struct inode *inode = exe->f_inode;
	bool argv_capped = false, argv_failed = false, env_capped = false, env_failed = false;
	__u16 flags = 0;

	if (!rec)
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));
	vj_task_fill(&rec->task, task);
	vj_task_tty(task, rec->tty);

	rec->exe_ino = inode->i_ino;
	rec->exe_size = inode->i_size;
	rec->exe_mtime_ns = vj_inode_mtime_ns(inode);
	rec->exe_dev = inode->i_sb->s_dev;
	rec->exe_mode = inode->i_mode;

	/* The walks get their starting points through probe reads, as plain values: path.bpf.h compares
	 * and replaces them with values it reads itself. */
	vj_path_write(rec->data, &rec->exe_len, VJ_PATH_SECTION_MAX, BPF_CORE_READ(exe, f_path.dentry),
		      BPF_CORE_READ(exe, f_path.mnt), &flags, VJ_F_EXE_TRUNCATED, VJ_F_EXE_DELETED);
	__u64 used = vj_section_len(&rec->exe_len, VJ_PATH_SECTION_MAX);

	vj_path_write(rec->data + used, &rec->cwd_len, VJ_PATH_SECTION_MAX, BPF_CORE_READ(task, fs, pwd.dentry),
		      BPF_CORE_READ(task, fs, pwd.mnt), &flags, VJ_F_CWD_TRUNCATED, VJ_F_CWD_DELETED);
	used += vj_section_len(&rec->cwd_len, VJ_PATH_SECTION_MAX);

	vj_cgroup_write(rec->data + used, &rec->cgroup_len, VJ_CGROUP_SECTION_MAX, task, &flags,
			VJ_F_CGROUP_TRUNCATED);
	used += vj_section_len(&rec->cgroup_len, VJ_CGROUP_SECTION_MAX);

	__u64 arg_start = mm->arg_start;
	__u64 arg_end = mm->arg_end;
	__u64 argv_len = copy_user_block(rec->data + used, arg_start, arg_end, argv_max_bytes, VJ_ARGV_MAX,
					 &argv_capped, &argv_failed);
	used += argv_len;
	if (argv_capped)
		flags |= VJ_F_ARGV_TRUNCATED;
	if (argv_failed)
		flags |= VJ_F_ARGV_UNREADABLE;

	__u64 env_len = copy_user_block(rec->data + used, mm->env_start, mm->env_end,
					env_max_bytes, VJ_ENV_MAX, &env_capped, &env_failed);
	used += env_len;
	/* An unreadable environment loses variables just as a short copy does. */
	if (env_capped || env_failed)
		flags |= VJ_F_ENV_TRUNCATED;

	rec->argv_len = argv_len;
	rec->argv_total = arg_end > arg_start ? arg_end - arg_start : 0;
	rec->env_len = env_len;
	rec->hdr.kind = VJ_REC_EXEC;
	rec->hdr.flags = flags;
	rec->hdr.size = sizeof(*rec) + used;
	vj_output(rec, sizeof(*rec) + used, VJ_REC_EXEC);
	return 0;
}

/* ---- exec_failed ---- */

/*
 * The arguments are read at the exit from the caller's saved user registers: a failed exec has not
 * touched them (only the return value register changes), so the syscall's entry need not stash them
 * in a map, which cost a hash update and delete on every exec. The entries stay attached, doing
 * nothing, because the loader lists them in this probe.
 */
static __always_inline void report_failed_exec(long ret, bool is_execveat)
{
	struct pt_regs *regs;
	struct vj_exec_failed_record *rec;
	__u64 filename;
	long copied;
	__u64 path_len;
	__u16 flags = 0;

	if (ret >= 0)
		return;
	rec = vj_scratch(VJ_REC_EXEC_FAILED);
	if (!rec)
		return;
	__builtin_memset(rec, 0, sizeof(*rec));
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (is_execveat) {
		/* execveat(dirfd, pathname, argv, envp, flags) */
		rec->dirfd = (__s32)PT_REGS_PARM1_SYSCALL(regs);
		filename = PT_REGS_PARM2_SYSCALL(regs);
		rec->at_flags = (__u32)PT_REGS_PARM5_SYSCALL(regs);
		rec->is_execveat = 1;
	} else {
		rec->dirfd = VJ_AT_FDCWD;
		filename = PT_REGS_PARM1_SYSCALL(regs);
	}
	vj_task_fill(&rec->task, (struct task_struct *)bpf_get_current_task());
	rec->error = (__s32)-ret;

	/* One byte more than the section: a string that fills it completely was longer than the copy. */
	copied = bpf_probe_read_user_str(rec->data, VJ_PATH_SECTION_MAX + 1, (const void *)filename);
	if (copied <= 0) {
		rec->data[0] = '\0';
		path_len = 1;
	} else if (copied > VJ_PATH_SECTION_MAX) {
		rec->data[VJ_PATH_SECTION_MAX - 1] = '\0';
		path_len = VJ_PATH_SECTION_MAX;
		flags |= VJ_F_PATH_TRUNCATED;
	} else {
		path_len = copied;
	}
	rec->path_len = path_len;

	rec->hdr.kind = VJ_REC_EXEC_FAILED;
	rec->hdr.flags = flags;
	rec->hdr.size = sizeof(*rec) + path_len;
	vj_output(rec, sizeof(*rec) + path_len, VJ_REC_EXEC_FAILED);
}

SEC("tp/syscalls/sys_exit_execve")
int handle_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	report_failed_exec(ctx->ret, false);
	return 0;
}

SEC("tp/syscalls/sys_exit_execveat")
int handle_execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
	report_failed_exec(ctx->ret, true);
	return 0;
}

/* ---- fork ---- */

/* Fires in the parent after copy_process(), so the child's ids and start time are set. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 child_pid = BPF_CORE_READ(child, tgid);
	__u32 child_tid = BPF_CORE_READ(child, pid);
	bool thread = child_pid != child_tid;
	struct vj_fork_record *rec;

	if (thread && !trace_threads)
		return 0;
	rec = vj_reserve(sizeof(*rec), VJ_REC_FORK);
	if (!rec)
		return 0;
	vj_task_fill(&rec->task, (struct task_struct *)bpf_get_current_task());
	rec->child_pid = child_pid;
	rec->child_tid = child_tid;
	rec->child_start_boottime_ns = BPF_CORE_READ(child, start_boottime);
	rec->hdr.kind = VJ_REC_FORK;
	rec->hdr.flags = thread ? VJ_F_THREAD : 0;
	rec->hdr.size = sizeof(*rec);
	vj_submit(rec);
	return 0;
}

/* ---- exit ---- */

/* Fires once per thread. do_exit() decrements signal->live before the tracepoint, so the thread that
 * sees 0 is the last one out and its exit is the process's. */
SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	bool thread = BPF_CORE_READ(task, signal, live.counter) != 0;
	struct vj_exit_record *rec;

	if (thread && !trace_threads)
		return 0;
	rec = vj_reserve(sizeof(*rec), VJ_REC_EXIT);
	if (!rec)
		return 0;
	vj_task_fill(&rec->task, task);
	rec->exit_code = BPF_CORE_READ(task, exit_code);
	rec->hdr.kind = VJ_REC_EXIT;
	rec->hdr.flags = thread ? VJ_F_THREAD : 0;
	rec->hdr.size = sizeof(*rec);
	vj_submit(rec);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
