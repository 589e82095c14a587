/* SPDX-License-Identifier: GPL-2.0 */
/* Inode metadata that identifies a file's content: used to tell whether the file on disk is still the
 * one the kernel used. */
#ifndef VAJRA_INODE_BPF_H
#define VAJRA_INODE_BPF_H

/* The modification time moved twice: `i_mtime` (timespec64) until 6.6, `__i_mtime` in 6.6, then split
 * seconds/nanoseconds fields from 6.7. Flavors let CO-RE pick whichever this kernel has. */
struct inode___split_mtime {
	time64_t i_mtime_sec;
	u32 i_mtime_nsec;
} __attribute__((preserve_access_index));

struct inode___private_mtime {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

struct inode___public_mtime {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline __u64 vj_inode_mtime_ns(struct inode *inode)
{
	__s64 sec = 0;
	__s64 nsec = 0;

	if (bpf_core_field_exists(struct inode___split_mtime, i_mtime_sec)) {
		struct inode___split_mtime *split = (void *)inode;

		sec = BPF_CORE_READ(split, i_mtime_sec);
		nsec = BPF_CORE_READ(split, i_mtime_nsec);
	} else if (bpf_core_field_exists(struct inode___private_mtime, __i_mtime)) {
		struct inode___private_mtime *private = (void *)inode;

		sec = BPF_CORE_READ(private, __i_mtime.tv_sec);
		nsec = BPF_CORE_READ(private, __i_mtime.tv_nsec);
	} else {
		struct inode___public_mtime *public = (void *)inode;

		sec = BPF_CORE_READ(public, i_mtime.tv_sec);
		nsec = BPF_CORE_READ(public, i_mtime.tv_nsec);
	}
	return (__u64)sec * 1000000000ull + (__u64)nsec;
}

#endif /* VAJRA_INODE_BPF_H */
