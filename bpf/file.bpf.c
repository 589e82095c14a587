// SPDX-License-Identifier: GPL-2.0
/*
 * The file family: create, open, modify, truncate, delete, rename, link, symlink, mkdir, chmod, chown
 * and xattr changes on watched paths (layout in vajra_wire.h, filter in fim_filter.bpf.h).
 *
 * Every call is taken at its syscall exit, where the result is known, with its arguments read from the
 * registers the syscall was entered with (pt_regs keeps them until the return to user space): no
 * entry program, no per-thread map. Targets the kernel holds
 * a dentry for (fd-based calls, a successful open) are walked from that dentry. Targets named by a
 * string are gone (unlink) or not findable (no path lookup is callable from a tracepoint) at exit, so
 * they are reported as the base directory's dentry plus the name, which vajrad joins.
 *
 * Modify is reported once per open-write-close cycle: an open for write of a watched file is tracked
 * by its struct file; writes add up their bytes; the last close (or the exit of the last process
 * holding it) reports the cycle if anything was written or the mtime moved (mmap, splice and
 * copy_file_range change content without write calls).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vajra_wire.h"

#include "inode.bpf.h"
#include "path.bpf.h"
#include "fdtable.bpf.h"
#include "task.bpf.h"

/* Three name sections (name, name2, extra) and two walked paths, each bounded on its own. */
#define VJ_SCRATCH_SIZE \
	(sizeof(struct vj_file_record) + 3 * VJ_FILE_NAME_MAX + 2 * VJ_PATH_SECTION_MAX + VJ_WALK_SLACK)
#include "emit.bpf.h"

#include "fim_filter.bpf.h"

_Static_assert(VJ_FILE_NAME_MAX == VJ_FILE_EXTRA_MAX, "extra shares the name sections' bound");

#define VJ_AT_FDCWD (-100)
#define VJ_O_ACCMODE 03
#define VJ_O_CREAT 0100
#define VJ_O_TRUNC 01000
#define VJ_O_PATH 010000000
/* Not in vmlinux.h: a macro in include/linux/fs.h. Set by the open that created the file. */
#define VJ_FMODE_WRITE 0x2
#define VJ_FMODE_CREATED (1 << 20)

#define OP_BIT(op) (1u << (op))
#define OPEN_WRITE_OPS (OP_BIT(VJ_FILE_CREATE) | OP_BIT(VJ_FILE_OPEN_WRITE) | OP_BIT(VJ_FILE_MODIFY))

/* ---- the call being reported ---- */

struct file_call {
	__u64 name;  /* user pointers */
	__u64 name2;
	__u64 extra;
	__s64 ret;
	__s32 dirfd;
	__s32 dirfd2;
	__s32 fd;
	__u32 open_flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 at_flags;
	__u16 op;
	__u16 syscall;
};

/* Hands a call from its syscall's exit shim to the shared body it tail-calls. Per CPU is enough: the
 * shim and the body are one uninterrupted run of BPF on this CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_call);
} current_call SEC(".maps");

/* ---- record building ---- */

/* Copies a user string into the next name section; its length (NUL included) goes to *len_field,
 * 0 when there is no name or it cannot be read (flagged). */
static __always_inline void put_name(__u8 *section, __u32 *len_field, __u64 user_ptr, __u32 *path_flags,
				     __u32 truncated_flag)
{
	long copied;

	*len_field = 0;
	if (!user_ptr)
		return;
	copied = bpf_probe_read_user_str(section, VJ_FILE_NAME_MAX, (const void *)user_ptr);
	if (copied <= 0) {
		section[0] = '\0'; /* callers look at the first byte */
		*path_flags |= truncated_flag;
		return;
	}
	*len_field = copied;
}

static __always_inline void put_attrs(struct vj_file_record *rec, struct inode *inode)
{
	if (!inode)
		return;
	rec->ino = BPF_CORE_READ(inode, i_ino);
	rec->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	rec->mode = BPF_CORE_READ(inode, i_mode);
	rec->uid = BPF_CORE_READ(inode, i_uid.val);
	rec->gid = BPF_CORE_READ(inode, i_gid.val);
	rec->size = BPF_CORE_READ(inode, i_size);
	rec->path_flags |= VJ_FP_ATTRS;
}

/* A cleared record in the scratch slot. The task part is filled by keep_record(), once the filter
 * has kept it: it is the costliest part to read. */
static __always_inline struct vj_file_record *new_record(__u16 op, __u16 syscall)
{
	struct vj_file_record *rec = vj_scratch(VJ_REC_FILE);

	if (!rec)
		return NULL;
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->op = op;
	rec->syscall = syscall;
	rec->fd = -1;
	return rec;
}

static __always_inline void keep_record(struct vj_file_record *rec)
{
	vj_task_fill(&rec->task, (struct task_struct *)bpf_get_current_task());
}

static __always_inline __u64 names_len(struct vj_file_record *rec)
{
	return vj_section_len(&rec->name_len, VJ_FILE_NAME_MAX) + vj_section_len(&rec->name2_len, VJ_FILE_NAME_MAX) +
	       vj_section_len(&rec->extra_len, VJ_FILE_EXTRA_MAX);
}

/* Walks the two paths after the name sections, then sends the record. */
static __always_inline void send_record(struct vj_file_record *rec, struct path *first, struct path *second)
{
	__u64 off = names_len(rec);
	__u16 flags = 0; /* the walk's flags are 16 bits; they are moved into path_flags */
	__u64 size;

	if (first) {
		vj_path_write(rec->data + off, &rec->path_len, VJ_PATH_SECTION_MAX, first->dentry, first->mnt,
			      &flags, VJ_FP_PATH_TRUNCATED, VJ_FP_PATH_DELETED);
		off += vj_section_len(&rec->path_len, VJ_PATH_SECTION_MAX);
	}
	if (second) {
		vj_path_write(rec->data + off, &rec->path2_len, VJ_PATH_SECTION_MAX, second->dentry, second->mnt,
			      &flags, VJ_FP_PATH2_TRUNCATED, VJ_FP_PATH2_DELETED);
	}
	rec->path_flags |= flags;
	size = sizeof(*rec) + names_len(rec) + vj_section_len(&rec->path_len, VJ_PATH_SECTION_MAX) +
	       vj_section_len(&rec->path2_len, VJ_PATH_SECTION_MAX);
	rec->hdr.kind = VJ_REC_FILE;
	rec->hdr.size = size;
	vj_output(rec, size, VJ_REC_FILE);
}

/* ---- bases of names ---- */

/* One probe read for both pointers: struct path has been {mnt, dentry} since 2.6, and each probe read
 * is a helper call, the bulk of a dropped event's cost. */
static __always_inline bool read_path(struct path *out, const struct path *from)
{
	if (bpf_probe_read_kernel(out, sizeof(*out), from))
		return false;
	return out->dentry && out->mnt;
}

/* The directory a name is relative to: the root for an absolute name, else the cwd or dirfd. */
static __always_inline bool name_base(struct task_struct *task, const __u8 *name, int dirfd, struct path *out)
{
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct file *file;

	if (name[0] == '/')
		return read_path(out, &fs->root);
	if (dirfd == VJ_AT_FDCWD)
		return read_path(out, &fs->pwd);
	file = vj_fd_file(task, dirfd);
	return file && read_path(out, &file->f_path);
}

/* Whether an absolute name of this task means the same string on the host: it is in vajrad's mount
 * namespace and not chrooted. Its root is then the root of a mount that sits on "/" of the mount
 * below (the host's "/" is mounted over the initial rootfs, so it is not the namespace's own root). */
static __always_inline bool in_host_root(struct task_struct *task, struct path *root, __u32 host_mnt_ns)
{
	struct mount *mnt = (void *)root->mnt - bpf_core_field_offset(struct mount, mnt);
	struct dentry *mountpoint = BPF_CORE_READ(mnt, mnt_mountpoint);

	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mnt_ns &&
	       root->dentry == BPF_CORE_READ(root->mnt, mnt_root) && BPF_CORE_READ(mountpoint, d_parent) == mountpoint;
}

/* Ops wanted for the name at `section` = data[section_off] (length in *len_field) relative to `base`.
 * *host_root caches in_host_root() across the two names of a call (-1: not known yet). */
static __always_inline __u32 named_target_ops(struct task_struct *task, struct path *base, const __u8 *section,
					      __u32 section_off, __u32 *len_field, __u32 want, __u32 host_mnt_ns,
					      int *host_root)
{
	__u64 len = vj_section_len(len_field, VJ_FILE_NAME_MAX);
	bool absolute;

	if (len == 0)
		return want; /* unreadable name: vajrad reports what it can */
	absolute = section[0] == '/';
	if (absolute && *host_root < 0)
		*host_root = in_host_root(task, base, host_mnt_ns);
	return fim_name_ops(base->dentry, base->mnt, section, section_off, len - 1, absolute,
			    absolute && *host_root > 0, want);
}

#include "file_cycle.bpf.h"

/* ---- which calls are wanted ---- */

#define VJ_S_IFMT 0170000
#define VJ_S_IFREG 0100000

/* A regular file with more than one name may be watched under a name other than the one used: the
 * filter cannot know, so changes through any name of it go to vajrad, which knows the watched
 * inodes (rare: few files have hard links, fewer are opened for write). */
static __always_inline bool hardlinked(struct inode *inode)
{
	return (BPF_CORE_READ(inode, i_mode) & VJ_S_IFMT) == VJ_S_IFREG && BPF_CORE_READ(inode, i_nlink) > 1;
}

static __always_inline bool op_watched(__u32 op_mask)
{
	struct vj_fim_settings *settings = fim_settings_get();

	return settings && (settings->ops & op_mask);
}

static __always_inline __u32 open_candidate_ops(__u32 flags)
{
	if ((flags & VJ_O_ACCMODE) || (flags & (VJ_O_CREAT | VJ_O_TRUNC)))
		return OPEN_WRITE_OPS;
	return OP_BIT(VJ_FILE_OPEN_READ);
}

/* ---- exit: decide and report ---- */

static __always_inline void track_open_write(struct file *file, struct inode *inode)
{
	struct open_file entry = {
		.inode = BPF_CORE_READ(inode, i_ino),
		.open_ns = bpf_ktime_get_boot_ns(),
		.mtime_ns = vj_inode_mtime_ns(inode),
		.tgid = bpf_get_current_pid_tgid() >> 32,
	};
	__u64 key = (__u64)file;
	bool replacing = bpf_map_lookup_elem(&open_files, &key) != NULL; /* a recycled struct file */
	__s64 *count = tracked_count();

	if (bpf_map_update_elem(&open_files, &key, &entry, BPF_ANY) == 0 && !replacing && count)
		__sync_fetch_and_add(count, 1);
}

/* A successful open: the target is the new fd's file. */
static __always_inline void exit_open_fd(struct file_call *call, long fd, __u32 ops_on)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *file = vj_fd_file(task, fd);
	struct vj_file_record *rec;
	struct inode *inode;
	struct path target;
	__u32 f_mode, want, wanted;
	__u16 op;

	if (!file || !read_path(&target, &file->f_path))
		return;
	f_mode = BPF_CORE_READ(file, f_mode);
	inode = BPF_CORE_READ(file, f_inode);
	if (f_mode & VJ_FMODE_CREATED)
		op = VJ_FILE_CREATE;
	else if (f_mode & VJ_FMODE_WRITE)
		op = VJ_FILE_OPEN_WRITE;
	else
		op = VJ_FILE_OPEN_READ;
	want = ops_on & (OP_BIT(op) | ((f_mode & VJ_FMODE_WRITE) ? OP_BIT(VJ_FILE_MODIFY) : 0));
	wanted = fim_dentry_ops(target.dentry, target.mnt, want);
	if (!(wanted & want) && (f_mode & VJ_FMODE_WRITE) && hardlinked(inode))
		wanted = want;
	if ((f_mode & VJ_FMODE_WRITE) && (wanted & ops_on & OP_BIT(VJ_FILE_MODIFY)))
		track_open_write(file, inode);
	if (!(wanted & ops_on & OP_BIT(op))) {
		fim_count_filtered(op);
		return;
	}
	rec = new_record(op, call->syscall);
	if (!rec)
		return;
	keep_record(rec);
	rec->result = fd;
	rec->fd = fd;
	rec->open_flags = call->open_flags;
	rec->arg_mode = call->mode;
	rec->path_flags = VJ_FP_TARGET;
	put_attrs(rec, inode);
	send_record(rec, &target, NULL);
}

static __always_inline __u16 failed_open_op(__u32 flags)
{
	if (flags & VJ_O_CREAT)
		return VJ_FILE_CREATE;
	if ((flags & VJ_O_ACCMODE) || (flags & VJ_O_TRUNC))
		return VJ_FILE_OPEN_WRITE;
	return VJ_FILE_OPEN_READ;
}

/* Calls by name that change a file without replacing it: through another hard link they change the
 * watched file too. */
static __always_inline bool changes_in_place(__u16 op)
{
	return op == VJ_FILE_TRUNCATE || op == VJ_FILE_CHMOD || op == VJ_FILE_CHOWN || op == VJ_FILE_SETXATTR ||
	       op == VJ_FILE_REMOVEXATTR;
}

/* Everything reported by name: failed opens and the path-based calls. */
static __always_inline void exit_named(struct file_call *call, long ret, __u32 ops_on, __u32 host_mnt_ns,
				       __u32 flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vj_file_record *rec;
	struct path base, base2;
	bool has_base, has_base2 = false;
	int host_root = -1;
	__u32 bit, wanted;
	__u64 off;

	rec = new_record(call->op, call->syscall);
	if (!rec)
		return;
	bit = OP_BIT(call->op);
	put_name(rec->data, &rec->name_len, call->name, &rec->path_flags, VJ_FP_NAME_TRUNCATED);
	has_base = name_base(task, rec->data, call->dirfd, &base);
	wanted = has_base ? named_target_ops(task, &base, rec->data, 0, &rec->name_len, bit, host_mnt_ns, &host_root)
			  : bit;
	if (call->name2) {
		off = vj_section_len(&rec->name_len, VJ_FILE_NAME_MAX);
		put_name(rec->data + off, &rec->name2_len, call->name2, &rec->path_flags, VJ_FP_NAME2_TRUNCATED);
		/* Two absolute names share the root: read it once. */
		if (has_base && rec->data[0] == '/' && rec->data[off] == '/') {
			base2 = base;
			has_base2 = true;
		} else {
			has_base2 = name_base(task, rec->data + off, call->dirfd2, &base2);
		}
		if (!(wanted & bit))
			wanted |= has_base2 ? named_target_ops(task, &base2, rec->data + off, off, &rec->name2_len,
							       bit, host_mnt_ns, &host_root)
					    : bit;
	}
	if (!(wanted & bit) && (flags & VJ_FIM_HARDLINKS) && changes_in_place(call->op))
		wanted = bit;
	if (!(wanted & bit)) {
		fim_count_filtered(call->op);
		return;
	}
	keep_record(rec);
	if (call->extra) {
		off = vj_section_len(&rec->name_len, VJ_FILE_NAME_MAX) +
		      vj_section_len(&rec->name2_len, VJ_FILE_NAME_MAX);
		put_name(rec->data + off, &rec->extra_len, call->extra, &rec->path_flags, VJ_FP_EXTRA_TRUNCATED);
	}
	rec->result = ret;
	rec->open_flags = call->open_flags;
	rec->arg_mode = call->mode;
	rec->arg_uid = call->uid;
	rec->arg_gid = call->gid;
	rec->at_flags = call->at_flags;
	/* An empty name (AT_EMPTY_PATH) is the base itself. */
	if (rec->name_len == 1 && has_base) {
		rec->path_flags |= VJ_FP_TARGET;
		put_attrs(rec, BPF_CORE_READ(base.dentry, d_inode));
	}
	send_record(rec, has_base ? &base : NULL, has_base2 ? &base2 : NULL);
}

/* fchmod, fchown, ftruncate, fsetxattr, fremovexattr: the target is the fd's file. */
static __always_inline void exit_fd_op(struct file_call *call, long ret, __u32 ops_on)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *file = vj_fd_file(task, call->fd);
	struct vj_file_record *rec;
	struct path target;
	__u32 bit = OP_BIT(call->op);

	if (!file || !read_path(&target, &file->f_path))
		return;
	if (!(fim_dentry_ops(target.dentry, target.mnt, bit) & bit) && !hardlinked(BPF_CORE_READ(file, f_inode))) {
		fim_count_filtered(call->op);
		return;
	}
	rec = new_record(call->op, call->syscall);
	if (!rec)
		return;
	keep_record(rec);
	rec->result = ret;
	rec->fd = call->fd;
	rec->arg_mode = call->mode;
	rec->arg_uid = call->uid;
	rec->arg_gid = call->gid;
	rec->at_flags = call->at_flags;
	rec->path_flags = VJ_FP_TARGET;
	put_attrs(rec, BPF_CORE_READ(file, f_inode));
	if (call->extra)
		put_name(rec->data, &rec->extra_len, call->extra, &rec->path_flags, VJ_FP_EXTRA_TRUNCATED);
	send_record(rec, &target, NULL);
}

static __always_inline bool is_open_syscall(__u16 syscall)
{
	return syscall == VJ_FSYS_OPEN || syscall == VJ_FSYS_OPENAT || syscall == VJ_FSYS_OPENAT2 ||
	       syscall == VJ_FSYS_CREAT;
}

static __noinline void exit_call(void)
{
	__u32 zero = 0;
	struct file_call *current = bpf_map_lookup_elem(&current_call, &zero);
	struct vj_fim_settings *settings = fim_settings_get();
	struct file_call call;

	if (!current || !settings)
		return;
	call = *current;
	if (is_open_syscall(call.syscall)) {
		if (call.ret >= 0) {
			exit_open_fd(&call, call.ret, settings->ops);
			return;
		}
		call.op = failed_open_op(call.open_flags);
		if (!(settings->ops & OP_BIT(call.op)))
			return;
	}
	if (call.name || call.name2)
		exit_named(&call, call.ret, settings->ops, settings->host_mnt_ns, settings->flags);
	else
		exit_fd_op(&call, call.ret, settings->ops);
}

/* ---- attach shims: the per-syscall exit tracepoints share the raw_syscalls layout ---- */

/* The syscall's own arguments, from the registers it was entered with. */
#define ARG(n) PT_REGS_PARM##n##_CORE_SYSCALL(regs)
#define SYSCALL_REGS() struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf())

/* Every syscall exit runs the same body. It is one program that the exits tail-call, so the verifier
 * checks it once rather than once per syscall (35 copies took the loader half a minute). */
SEC("tracepoint")
int handle_file_call_exit(void *ctx)
{
	exit_call();
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} file_call_exit SEC(".maps") = {
	.values = {[0] = (void *)&handle_file_call_exit},
};

static __always_inline void report_call(void *ctx, struct file_call *call)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(&current_call, &zero, call, BPF_ANY) == 0)
		bpf_tail_call(ctx, &file_call_exit, 0);
}

/* Opens: which operations are candidates depends on the flags. */
#define OPEN_SHIM(sys, SYSCALL, dirfd_expr, name_expr, flags_expr, mode_expr)                      \
	SEC("tp/syscalls/sys_exit_" #sys)                                                          \
	int handle_##sys##_exit(struct trace_event_raw_sys_exit *ctx)                              \
	{                                                                                          \
		SYSCALL_REGS();                                                                    \
		__u32 flags = (flags_expr);                                                        \
		struct file_call call;                                                             \
                                                                                                   \
		/* O_PATH opens neither read nor write: they only name a file. */                  \
		if ((flags & VJ_O_PATH) || !op_watched(open_candidate_ops(flags)))                 \
			return 0;                                                                  \
		call = (struct file_call){.ret = ctx->ret, .open_flags = flags, .mode = (mode_expr),   \
					  .syscall = SYSCALL};                                     \
		/* A successful open is reported from its fd: the name is only read on failure. */ \
		if (call.ret < 0) {                                                                \
			call.dirfd = (dirfd_expr);                                                 \
			call.name = (name_expr);                                                   \
		}                                                                                  \
		report_call(ctx, &call);                                                           \
		return 0;                                                                          \
	}

OPEN_SHIM(open, VJ_FSYS_OPEN, VJ_AT_FDCWD, ARG(1), ARG(2), ARG(3))
OPEN_SHIM(openat, VJ_FSYS_OPENAT, ARG(1), ARG(2), ARG(3), ARG(4))
OPEN_SHIM(creat, VJ_FSYS_CREAT, VJ_AT_FDCWD, ARG(1), VJ_O_CREAT | VJ_O_TRUNC | 1, ARG(2))

static __always_inline __u64 openat2_how(struct pt_regs *regs, bool mode)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ARG(3));
	return mode ? how.mode : how.flags;
}
OPEN_SHIM(openat2, VJ_FSYS_OPENAT2, ARG(1), ARG(2), openat2_how(regs, false), openat2_how(regs, true))

/* writes of tracked files */
#define WRITE_SHIM(sys)                                                 \
	SEC("tp/syscalls/sys_exit_" #sys)                               \
	int handle_##sys##_exit(struct trace_event_raw_sys_exit *ctx)   \
	{                                                               \
		SYSCALL_REGS();                                         \
                                                                        \
		exit_write(ARG(1), ctx->ret);                           \
		return 0;                                               \
	}
WRITE_SHIM(write)
WRITE_SHIM(pwrite64)
WRITE_SHIM(writev)
WRITE_SHIM(pwritev)
WRITE_SHIM(pwritev2)

/* Calls by name or fd: the fields of struct file_call each one fills, read only once the operation
 * is known to be wanted. Names are relative to the cwd unless a dirfd is given. */
#define CWD VJ_AT_FDCWD
#define CALL_SHIM(sys, OP, SYSCALL, ...)                                                   \
	SEC("tp/syscalls/sys_exit_" #sys)                                                  \
	int handle_##sys##_exit(struct trace_event_raw_sys_exit *ctx)                      \
	{                                                                                  \
		SYSCALL_REGS();                                                            \
		struct file_call call;                                                     \
                                                                                           \
		if (!op_watched(OP_BIT(OP)))                                               \
			return 0;                                                          \
		call = (struct file_call){.ret = ctx->ret, .op = OP, .syscall = SYSCALL, __VA_ARGS__}; \
		report_call(ctx, &call);                                                   \
		return 0;                                                                  \
	}

CALL_SHIM(truncate, VJ_FILE_TRUNCATE, VJ_FSYS_TRUNCATE, .dirfd = CWD, .name = ARG(1))
CALL_SHIM(ftruncate, VJ_FILE_TRUNCATE, VJ_FSYS_FTRUNCATE, .fd = ARG(1))
CALL_SHIM(unlink, VJ_FILE_DELETE, VJ_FSYS_UNLINK, .dirfd = CWD, .name = ARG(1))
CALL_SHIM(unlinkat, VJ_FILE_DELETE, VJ_FSYS_UNLINKAT, .dirfd = ARG(1), .name = ARG(2), .at_flags = ARG(3))
CALL_SHIM(rmdir, VJ_FILE_DELETE, VJ_FSYS_RMDIR, .dirfd = CWD, .name = ARG(1))
CALL_SHIM(rename, VJ_FILE_RENAME, VJ_FSYS_RENAME, .dirfd = CWD, .name = ARG(1), .dirfd2 = CWD, .name2 = ARG(2))
CALL_SHIM(renameat, VJ_FILE_RENAME, VJ_FSYS_RENAMEAT, .dirfd = ARG(1), .name = ARG(2), .dirfd2 = ARG(3),
	  .name2 = ARG(4))
CALL_SHIM(renameat2, VJ_FILE_RENAME, VJ_FSYS_RENAMEAT2, .dirfd = ARG(1), .name = ARG(2), .dirfd2 = ARG(3),
	  .name2 = ARG(4), .at_flags = ARG(5))
CALL_SHIM(link, VJ_FILE_LINK, VJ_FSYS_LINK, .dirfd = CWD, .name = ARG(1), .dirfd2 = CWD, .name2 = ARG(2))
CALL_SHIM(linkat, VJ_FILE_LINK, VJ_FSYS_LINKAT, .dirfd = ARG(1), .name = ARG(2), .dirfd2 = ARG(3),
	  .name2 = ARG(4), .at_flags = ARG(5))
CALL_SHIM(symlink, VJ_FILE_SYMLINK, VJ_FSYS_SYMLINK, .extra = ARG(1), .dirfd = CWD, .name = ARG(2))
CALL_SHIM(symlinkat, VJ_FILE_SYMLINK, VJ_FSYS_SYMLINKAT, .extra = ARG(1), .dirfd = ARG(2), .name = ARG(3))
CALL_SHIM(mkdir, VJ_FILE_MKDIR, VJ_FSYS_MKDIR, .dirfd = CWD, .name = ARG(1), .mode = ARG(2))
CALL_SHIM(mkdirat, VJ_FILE_MKDIR, VJ_FSYS_MKDIRAT, .dirfd = ARG(1), .name = ARG(2), .mode = ARG(3))
CALL_SHIM(chmod, VJ_FILE_CHMOD, VJ_FSYS_CHMOD, .dirfd = CWD, .name = ARG(1), .mode = ARG(2))
CALL_SHIM(fchmod, VJ_FILE_CHMOD, VJ_FSYS_FCHMOD, .fd = ARG(1), .mode = ARG(2))
CALL_SHIM(fchmodat, VJ_FILE_CHMOD, VJ_FSYS_FCHMODAT, .dirfd = ARG(1), .name = ARG(2), .mode = ARG(3))
CALL_SHIM(fchmodat2, VJ_FILE_CHMOD, VJ_FSYS_FCHMODAT2, .dirfd = ARG(1), .name = ARG(2), .mode = ARG(3),
	  .at_flags = ARG(4))
CALL_SHIM(chown, VJ_FILE_CHOWN, VJ_FSYS_CHOWN, .dirfd = CWD, .name = ARG(1), .uid = ARG(2), .gid = ARG(3))
CALL_SHIM(lchown, VJ_FILE_CHOWN, VJ_FSYS_LCHOWN, .dirfd = CWD, .name = ARG(1), .uid = ARG(2), .gid = ARG(3))
CALL_SHIM(fchown, VJ_FILE_CHOWN, VJ_FSYS_FCHOWN, .fd = ARG(1), .uid = ARG(2), .gid = ARG(3))
CALL_SHIM(fchownat, VJ_FILE_CHOWN, VJ_FSYS_FCHOWNAT, .dirfd = ARG(1), .name = ARG(2), .uid = ARG(3),
	  .gid = ARG(4), .at_flags = ARG(5))
CALL_SHIM(setxattr, VJ_FILE_SETXATTR, VJ_FSYS_SETXATTR, .dirfd = CWD, .name = ARG(1), .extra = ARG(2),
	  .at_flags = ARG(5))
CALL_SHIM(lsetxattr, VJ_FILE_SETXATTR, VJ_FSYS_LSETXATTR, .dirfd = CWD, .name = ARG(1), .extra = ARG(2),
	  .at_flags = ARG(5))
CALL_SHIM(fsetxattr, VJ_FILE_SETXATTR, VJ_FSYS_FSETXATTR, .fd = ARG(1), .extra = ARG(2), .at_flags = ARG(5))
CALL_SHIM(setxattrat, VJ_FILE_SETXATTR, VJ_FSYS_SETXATTRAT, .dirfd = ARG(1), .name = ARG(2), .at_flags = ARG(3),
	  .extra = ARG(4))
CALL_SHIM(removexattr, VJ_FILE_REMOVEXATTR, VJ_FSYS_REMOVEXATTR, .dirfd = CWD, .name = ARG(1), .extra = ARG(2))
CALL_SHIM(lremovexattr, VJ_FILE_REMOVEXATTR, VJ_FSYS_LREMOVEXATTR, .dirfd = CWD, .name = ARG(1), .extra = ARG(2))
CALL_SHIM(fremovexattr, VJ_FILE_REMOVEXATTR, VJ_FSYS_FREMOVEXATTR, .fd = ARG(1), .extra = ARG(2))
CALL_SHIM(removexattrat, VJ_FILE_REMOVEXATTR, VJ_FSYS_REMOVEXATTRAT, .dirfd = ARG(1), .name = ARG(2),
	  .at_flags = ARG(3), .extra = ARG(4))

char LICENSE[] SEC("license") = "GPL";
