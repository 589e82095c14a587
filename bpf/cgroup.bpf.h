/* SPDX-License-Identifier: GPL-2.0 */
/* The cgroup v2 path of a task as a path section: kernfs node names from its cgroup up to the root. */
#ifndef VAJRA_CGROUP_BPF_H
#define VAJRA_CGROUP_BPF_H

#include "path.bpf.h"

/* kernfs_node's `parent` became `__parent` (RCU-annotated) in 6.15; these flavors match either. */
struct kernfs_node___parent_renamed {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

struct kernfs_node___parent_plain {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* Direct loads: `kn` is a BTF pointer, so each step costs plain loads, not helper calls. */
static __always_inline struct kernfs_node *vj_kernfs_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___parent_renamed, __parent))
		return ((struct kernfs_node___parent_renamed *)kn)->__parent;
	return ((struct kernfs_node___parent_plain *)kn)->parent;
}

/* Writes the task's default-hierarchy (v2) cgroup path, leaf first and without the unnamed root, into
 * `section` and its length into *len (map memory, see path.bpf.h); the root cgroup is an empty section.
 * Sets `truncated_flag` past VJ_CGROUP_MAX_DEPTH or section_max. `task` must be a BTF pointer
 * (bpf_get_current_task_btf()). */
static __always_inline void vj_cgroup_write(__u8 *section, __u32 *len, __u64 section_max,
					    struct task_struct *task, __u16 *flags, __u16 truncated_flag)
{
	struct kernfs_node *kn = task->cgroups->dfl_cgrp->kn;

	*len = 0;
	for (int depth = 0; depth < VJ_CGROUP_MAX_DEPTH; depth++) {
		struct kernfs_node *parent;

		if (!kn)
			return;
		parent = vj_kernfs_parent(kn);
		if (!parent)
			return;
		if (!vj_append_name(section, len, section_max, kn->name))
			break;
		kn = parent;
	}
	/* Stopped for lack of room, or out of depth with more than the root left. */
	if (vj_kernfs_parent(kn))
		*flags |= truncated_flag;
}

#endif /* VAJRA_CGROUP_BPF_H */
