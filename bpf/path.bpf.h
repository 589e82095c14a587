/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Path sections (see vajra_wire.h): names written leaf first, each NUL-terminated, into a section of
 * the scratch slot. bpf_d_path() is not allowed from tracepoints, so dentries and mounts are walked by
 * hand, in bounded loops, the way the kernel's prepend_path() does.
 */
#ifndef VAJRA_PATH_BPF_H
#define VAJRA_PATH_BPF_H

/* A name is read with room for the longest one before it is known to fit (the verifier cannot relate an
 * offset to the room left), so a family must leave this much slack after the last section it walks. */
#define VJ_WALK_SLACK (VJ_NAME_MAX + 1)
/* Mount boundaries crossed on the way up (bind mounts, stacked mounts, container roots). They share the
 * walk's step budget with names, so a walk with fewer hops has room for more names. */
#define VJ_PATH_MAX_MOUNT_HOPS 16

/*
 * Section lengths are accumulated in the record's own length field, in map memory, rather than in a
 * local. A value loaded from a map is unknown to the verifier, so every way through a walk reaches the
 * loop head (and the walk's end) in the same verifier state and is pruned; with the length in a
 * register each path would carry its own range and a 64-step walk would exceed the 1M-instruction limit.
 */
static __always_inline __u64 vj_load_len(const __u32 *len_field)
{
	return *(const volatile __u32 *)len_field;
}

/* A section length read back from the record, bounded for the verifier (it never exceeds the bound). */
static __always_inline __u64 vj_section_len(const __u32 *len_field, __u64 section_max)
{
	__u64 len = vj_load_len(len_field);

	return len < section_max ? len : section_max;
}

/* Appends `name` at section[*len]. False, with *len unchanged, when the name cannot be read or does not
 * fit in section_max; bytes it wrote past *len are overwritten by whatever the record puts there next. */
static __always_inline bool vj_append_name(__u8 *section, __u32 *len, __u64 section_max, const void *name)
{
	__u64 off = vj_load_len(len);
	long copied;

	if (off >= section_max)
		return false;
	copied = bpf_probe_read_kernel_str(section + off, VJ_WALK_SLACK, name);
	if (copied <= 0 || off + copied > section_max)
		return false;
	*len = off + copied;
	return true;
}

/* Unhashed means no directory entry leads to the dentry: it was unlinked, or it is a pseudo file such
 * as a memfd (whose /proc/PID/exe reads "/memfd:NAME (deleted)"). A filesystem's root is unhashed as
 * well, but when it is the mount's root it is reached through the mount and is not deleted. */
static __always_inline bool vj_dentry_unlinked(struct dentry *dentry, struct vfsmount *vfsmnt)
{
	return !BPF_CORE_READ(dentry, d_hash.pprev) && dentry != BPF_CORE_READ(vfsmnt, mnt_root);
}

/*
 * Writes the path of (dentry, vfsmnt) up to the root of its mount namespace into `section`, its length
 * into *len (which must be in map memory, see above). Sets `truncated_flag` when the walk ran out of
 * steps or room or a name was unreadable, and `deleted_flag` when the leaf has been unlinked. A path
 * that is the root itself is an empty section.
 */
static __always_inline void vj_path_write(__u8 *section, __u32 *len, __u64 section_max, struct dentry *dentry,
					  struct vfsmount *vfsmnt, __u16 *flags, __u16 truncated_flag,
					  __u16 deleted_flag)
{
	/* struct mount is private to fs/; container_of with a CO-RE offset keeps it relocatable. */
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);

	*len = 0;
	if (!dentry || !vfsmnt) {
		*flags |= truncated_flag;
		return;
	}
	if (vj_dentry_unlinked(dentry, vfsmnt))
		*flags |= deleted_flag;

	/* One step per name or mount hop, plus one to see the root after the deepest allowed path. */
	for (int step = 0; step < VJ_PATH_MAX_DEPTH + VJ_PATH_MAX_MOUNT_HOPS + 1; step++) {
		struct dentry *parent;

		if (dentry == BPF_CORE_READ(mnt, mnt.mnt_root)) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			/* A mount that is its own parent is the namespace root (or an internal mount). */
			if (mnt_parent == mnt)
				return;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		if (!vj_append_name(section, len, section_max, BPF_CORE_READ(dentry, d_name.name)))
			break;
		parent = BPF_CORE_READ(dentry, d_parent);
		/* Its own parent yet not its mount's root: a pseudo file (memfd, pipe) or a disconnected tree.
		 * Like the kernel's d_path, show it as a name directly under "/". */
		if (parent == dentry)
			return;
		dentry = parent;
	}
	*flags |= truncated_flag;
}

#endif /* VAJRA_PATH_BPF_H */
