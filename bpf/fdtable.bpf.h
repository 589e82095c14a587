/* SPDX-License-Identifier: GPL-2.0 */
/* The current task's fd table: from an fd to its struct file, for every family that reads files. */
#ifndef VAJRA_FDTABLE_BPF_H
#define VAJRA_FDTABLE_BPF_H

/* The file an fd of `task` names, or NULL. The fd table is RCU-protected; probe reads tolerate a table
 * replaced under us and at worst read a stale slot. */
static __always_inline struct file *vj_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

#endif /* VAJRA_FDTABLE_BPF_H */
