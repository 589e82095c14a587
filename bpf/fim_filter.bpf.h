/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file family's watch filter: decides in the kernel, before any path is walked into a record,
 * whether an operation can concern a watched path. It is a superset of the watch lists (vajrad applies
 * the exact globs), built by vajrad from their literal prefixes (see daemon/watch_list.h):
 *   fim_dirs      inodes whose subtree is watched, that have children watched by name, or that are
 *                 ancestors of watched directories
 *   fim_names     children watched by name: (parent inode, FNV-1a of the name)
 *   fim_prefixes  the literal prefixes as strings, for absolute names
 * Inodes rather than strings, because the kernel has the dentry of an open file, a dirfd or the cwd,
 * and matching its inode and its ancestors' needs no path string at all; it also follows a watched
 * tree through symlinks, bind mounts and renames of its parents.
 */
#ifndef VAJRA_FIM_FILTER_BPF_H
#define VAJRA_FIM_FILTER_BPF_H

#define VJ_FIM_MAX_DIRS 16384
#define VJ_FIM_MAX_NAMES 16384
#define VJ_FIM_MAX_PREFIXES 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VJ_FIM_MAX_DIRS);
	__type(key, struct vj_fim_inode_key);
	__type(value, struct vj_fim_dir);
} fim_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VJ_FIM_MAX_NAMES);
	__type(key, struct vj_fim_name_key);
	__type(value, __u32);
} fim_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VJ_FIM_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required of LPM tries */
	__type(key, struct vj_fim_prefix_key);
	__type(value, __u32);
} fim_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vj_fim_settings);
} fim_settings SEC(".maps");

/* Operations the filter dropped, per enum vj_file_op: they never reached user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VJ_FILE_OP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} fim_filtered SEC(".maps");

/* Per-CPU room for a prefix key and a leaf name: both are too big for the 512-byte stack next to the
 * rest of a handler's locals. */
struct fim_tmp {
	struct vj_fim_prefix_key key;
	__u8 leaf[VJ_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fim_tmp);
} fim_tmp SEC(".maps");

static __always_inline struct vj_fim_settings *fim_settings_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fim_settings, &zero);
}

static __always_inline void fim_count_filtered(__u32 op)
{
	__u64 *count = bpf_map_lookup_elem(&fim_filtered, &op);

	if (count)
		*count += 1; /* per-CPU slot: no other writer */
}

static __always_inline struct fim_tmp *fim_tmp_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fim_tmp, &zero);
}

static __always_inline void fim_inode_key(struct dentry *dentry, struct vj_fim_inode_key *key)
{
	key->dev = BPF_CORE_READ(dentry, d_sb, s_dev);
	key->pad = 0;
	key->ino = BPF_CORE_READ(dentry, d_inode, i_ino);
}

/* FNV-1a 64 of the first `len` bytes of `name`; vajrad computes the same for the names it watches. */
static __always_inline __u64 fim_fnv64(const __u8 *name, __u64 len)
{
	__u64 hash = VJ_FNV64_OFFSET;

	for (int i = 0; i < VJ_NAME_MAX; i++) {
		if (i >= len)
			break;
		hash ^= name[i];
		hash *= VJ_FNV64_PRIME;
	}
	return hash;
}

/* Ops wanted for the child `name` (len bytes, no NUL) of the directory `dir_key`, watched by name. */
static __always_inline __u32 fim_named_ops_of(const struct vj_fim_inode_key *dir_key, const __u8 *name, __u64 len)
{
	struct vj_fim_name_key key = {};
	__u32 *ops;

	if (len == 0 || len > VJ_NAME_MAX)
		return 0;
	key.dev = dir_key->dev;
	key.dir_ino = dir_key->ino;
	key.name_hash = fim_fnv64(name, len);
	ops = bpf_map_lookup_elem(&fim_names, &key);
	return ops ? *ops : 0;
}

static __always_inline __u32 fim_named_ops(struct dentry *dir, const __u8 *name, __u64 len)
{
	struct vj_fim_inode_key dir_key;

	fim_inode_key(dir, &dir_key);
	return fim_named_ops_of(&dir_key, name, len);
}

/* What the walk saw of the first two inodes: the start and its parent. */
struct fim_near {
	__u32 named0;    /* the start has children watched by name */
	__u32 ancestor0; /* the start is an ancestor of a watched directory */
	__u32 named1;    /* the start's parent has children watched by name */
};

/* The walk's state, in bpf_loop's context: an inline loop of this many steps, inlined at every call
 * site, is more than the verifier's instruction budget. Pointers are kernel addresses, read only.
 * Every dentry of one mount is on that mount's superblock, so its dev and root are read once per
 * mount, not per step. */
struct fim_walk {
	struct dentry *dentry;
	struct mount *mnt;
	struct dentry *mnt_root;
	__u32 dev;
	__u32 want;
	__u32 ops;
	bool done; /* reached the root, or met `want`: else the walk ran out of steps */
	struct fim_near near;
};

/* Deeper than a path the kernel resolves (PATH_MAX, "a/" per name), mount hops included: a walk that
 * still runs out of steps passes the event (vajrad decides). */
#define VJ_FIM_WALK_MAX (4096 / 2 + VJ_PATH_MAX_MOUNT_HOPS)

static __always_inline void fim_walk_enter_mount(struct fim_walk *walk, struct mount *mnt)
{
	walk->mnt = mnt;
	walk->mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	walk->dev = BPF_CORE_READ(mnt, mnt.mnt_sb, s_dev);
}

static long fim_walk_step(__u64 step, struct fim_walk *walk)
{
	/* Locals, not walk->...: CO-RE would try to relocate the access to this (non-kernel) struct. */
	struct dentry *dentry = walk->dentry;
	struct mount *mnt = walk->mnt;
	struct vj_fim_inode_key key = {.dev = walk->dev, .ino = BPF_CORE_READ(dentry, d_inode, i_ino)};
	struct vj_fim_dir *dir = bpf_map_lookup_elem(&fim_dirs, &key);
	struct dentry *parent;

	if (dir) {
		walk->ops |= dir->subtree_ops;
		if (step == 0) {
			walk->near.named0 = dir->named_ops;
			walk->near.ancestor0 = dir->ancestor_ops;
		} else if (step == 1) {
			walk->near.named1 = dir->named_ops;
		}
	}
	/* The nearest two inodes are always seen: named children are checked by the caller. */
	if ((walk->ops & walk->want) && step >= 1) {
		walk->done = true;
		return 1;
	}
	if (dentry == walk->mnt_root) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (mnt_parent == mnt) {
			walk->done = true;
			return 1;
		}
		walk->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		fim_walk_enter_mount(walk, mnt_parent);
		return 0;
	}
	parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry) {
		walk->done = true;
		return 1;
	}
	walk->dentry = parent;
	return 0;
}

/*
 * Subtree ops of `dentry` and every inode above it, crossing mounts upward like path.bpf.h's walk.
 * Stops early once `want` is met. A mount point is looked up on both sides (the mounted root and the
 * directory it covers), which only widens the superset.
 */
static __always_inline __u32 fim_subtree_ops(struct dentry *dentry, struct vfsmount *vfsmnt, __u32 want,
					     struct fim_near *near)
{
	struct vj_fim_settings *settings = fim_settings_get();
	struct fim_walk walk = {.dentry = dentry, .want = want};

	if (dentry && vfsmnt) {
		fim_walk_enter_mount(&walk, (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
		if (settings && !(want & settings->subtree_ops)) {
			/* No subtree is watched for `want`: no ancestor can add it, only the nearest two
			 * inodes' named children and ancestor marks matter. */
			if (fim_walk_step(0, &walk) == 0)
				fim_walk_step(1, &walk);
		} else {
			bpf_loop(VJ_FIM_WALK_MAX, fim_walk_step, &walk, 0);
			if (!walk.done)
				walk.ops |= want;
		}
	}
	*near = walk.near;
	return walk.ops;
}

/* Ops wanted for the dentry's own name among its parent's children watched by name. */
static __always_inline __u32 fim_leaf_ops(struct dentry *dentry, struct dentry *parent,
					  const struct vj_fim_inode_key *parent_key)
{
	struct fim_tmp *tmp = fim_tmp_get();
	long copied;

	if (!tmp)
		return ~0u; /* cannot check: let vajrad decide */
	copied = bpf_probe_read_kernel_str(tmp->leaf, sizeof(tmp->leaf), BPF_CORE_READ(dentry, d_name.name));
	if (copied <= 1)
		return 0;
	if (parent_key)
		return fim_named_ops_of(parent_key, tmp->leaf, copied - 1);
	return fim_named_ops(parent, tmp->leaf, copied - 1);
}

/* Ops wanted for a target held as a dentry: its subtree ops, or its own name under its parent. */
static __always_inline __u32 fim_dentry_ops(struct dentry *dentry, struct vfsmount *vfsmnt, __u32 want)
{
	struct vj_fim_settings *settings = fim_settings_get();
	struct vj_fim_inode_key parent_key;
	struct vj_fim_dir *parent_dir;
	struct dentry *parent;
	struct fim_near near;
	__u32 ops;

	/* No subtree is watched for `want` (reads, with the built-in lists): only the parent's children
	 * watched by name can want it, one lookup instead of a walk. A mount's root is left to the walk,
	 * which crosses to the mount point. */
	if (settings && !(want & settings->subtree_ops) && dentry && vfsmnt &&
	    dentry != BPF_CORE_READ(vfsmnt, mnt_root)) {
		parent = BPF_CORE_READ(dentry, d_parent);
		fim_inode_key(parent, &parent_key);
		parent_dir = bpf_map_lookup_elem(&fim_dirs, &parent_key);
		if (!parent_dir || !(parent_dir->named_ops & want))
			return 0;
		return fim_leaf_ops(dentry, parent, &parent_key);
	}
	ops = fim_subtree_ops(dentry, vfsmnt, want, &near);
	if ((ops & want) || !(near.named1 & want))
		return ops;
	return ops | fim_leaf_ops(dentry, BPF_CORE_READ(dentry, d_parent), NULL);
}

/* What a scan of a name found. The name sits in this CPU's scratch record at data[off]; the scan runs
 * under bpf_loop because a plain loop over up to PATH_MAX bytes is too many branches for the verifier. */
struct fim_scan {
	__u32 off;        /* of the name in the record's data[] */
	__u32 len;        /* bytes, NUL excluded */
	__u32 prev;       /* the byte before the one looked at; '/' at the start */
	bool slash;       /* has a '/' past its first byte */
	bool normalising; /* has a ".", ".." or empty component: its string is not its path */
};

static __always_inline int fim_scan_byte_at(const struct vj_scratch *slot, __u64 index)
{
	__u64 at = offsetof(struct vj_file_record, data) + index;

	return at < VJ_SCRATCH_SIZE ? slot->bytes[at] : -1;
}

static long fim_scan_step(__u64 i, struct fim_scan *scan)
{
	__u32 cpu = bpf_get_smp_processor_id();
	const struct vj_scratch *slot = bpf_map_lookup_elem(&scratch, &cpu);
	__u64 at = (__u64)scan->off + i;
	int c, next, after;

	if (!slot || i >= scan->len)
		return 1;
	c = fim_scan_byte_at(slot, at);
	if (c < 0)
		return 1;
	if (c == '/' && i > 0)
		scan->slash = true;
	if (scan->prev == '/') {
		next = i + 1 < scan->len ? fim_scan_byte_at(slot, at + 1) : '/';
		after = i + 2 < scan->len ? fim_scan_byte_at(slot, at + 2) : '/';
		if ((c == '/' && i > 0) || (c == '.' && (next == '/' || (next == '.' && after == '/')))) {
			scan->normalising = true;
			return 1;
		}
	}
	scan->prev = c;
	return 0;
}

/* The string kfuncs of Linux 6.17+ scan in native code; older kernels take the bpf_loop scan. */
extern int bpf_strnstr(const char *s1__ign, const char *s2__ign, size_t len) __ksym __weak;
extern int bpf_strnchr(const char *s__ign, size_t count, char c) __ksym __weak;

static __always_inline __u8 fim_name_byte(const __u8 *name, __u64 index)
{
	return name[index & (VJ_FILE_NAME_MAX - 1)];
}

static __always_inline bool fim_scan_name_native(const __u8 *name, __u64 len, struct fim_scan *scan)
{
	bool dot_start, dot_end;

	if (!bpf_strnstr || !bpf_strnchr)
		return false;
	scan->slash = len > 1 && bpf_strnchr((const char *)name + 1, len - 1, '/') >= 0;
	/* "." or ".." as the first or the last component, or anywhere between two slashes. */
	dot_start = name[0] == '.' &&
		    (len == 1 || name[1] == '/' || (name[1] == '.' && (len == 2 || name[2] == '/')));
	dot_end = len >= 2 && fim_name_byte(name, len - 1) == '.' &&
		  (fim_name_byte(name, len - 2) == '/' ||
		   (len >= 3 && fim_name_byte(name, len - 2) == '.' && fim_name_byte(name, len - 3) == '/'));
	scan->normalising = dot_start || dot_end || bpf_strnstr((const char *)name, "//", len) >= 0 ||
			    bpf_strnstr((const char *)name, "/./", len) >= 0 ||
			    bpf_strnstr((const char *)name, "/../", len) >= 0;
	return true;
}

/* 0x80 in every byte of `word` equal to `c`, exactly (no carries between bytes). */
static __always_inline __u64 fim_bytes_eq(__u64 word, __u8 c)
{
	__u64 x = word ^ (0x0101010101010101ull * c);

	return ~(((x & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | x | 0x7f7f7f7f7f7f7f7full);
}

/* The word-at-a-time pre-scan's state, in bpf_loop's context (an inline loop over up to 512 words
 * forks a verifier path per possible length, and unrolling a few words overflows the 512-byte stack). */
struct fim_words {
	__u32 off; /* of the name in the record's data[] */
	__u32 len; /* bytes, NUL excluded */
	__u64 carry;
	__u64 pairs;
	__u64 slashes;
};

static long fim_words_step(__u64 i, struct fim_words *w)
{
	__u32 cpu = bpf_get_smp_processor_id();
	const struct vj_scratch *slot = bpf_map_lookup_elem(&scratch, &cpu);
	__u64 at = offsetof(struct vj_file_record, data) + (__u64)w->off + i * 8;
	__u64 left = (__u64)w->len - i * 8;
	__u64 word, valid, s, d;

	if (!slot || i * 8 >= w->len || at > VJ_SCRATCH_SIZE - 8)
		return 1;
	word = *(const __u64 *)&slot->bytes[at];
	valid = left >= 8 ? ~0ull : (1ull << (left * 8)) - 1;
	s = fim_bytes_eq(word, '/') & valid;
	d = fim_bytes_eq(word, '.') & valid;
	w->pairs |= ((s << 8) | w->carry) & (s | d);
	w->carry = s >> 56;
	w->slashes |= i == 0 ? s & ~0x80ull : s;
	return 0;
}

/* Word-at-a-time pre-scan, with no string helpers (the string kfuncs read byte by byte through
 * copy_from_kernel_nofault, and bpf_strnstr is quadratic: they were most of the filter's cost). Sets
 * scan->slash exactly; returns whether the name may need normalising: it starts with '.' or has a
 * "/." or "//", which the exact scan then decides. */
static __always_inline bool fim_scan_words(const __u8 *name, __u32 off, __u64 len, struct fim_scan *scan)
{
	struct fim_words w = {.off = off, .len = len};

	bpf_loop((VJ_FILE_NAME_MAX + 7) / 8, fim_words_step, &w, 0);
	scan->slash = w.slashes != 0;
	return w.pairs || name[0] == '.';
}

static __always_inline void fim_scan_name(const __u8 *name, __u32 off, __u64 len, struct fim_scan *scan)
{
	scan->off = off;
	scan->len = len;
	scan->prev = '/';
	scan->slash = false;
	scan->normalising = false;
	if (!fim_scan_words(name, off, len, scan))
		return;
	scan->slash = false;
	if (!fim_scan_name_native(name, len, scan))
		bpf_loop(VJ_FILE_NAME_MAX, fim_scan_step, scan, 0);
}

/* Ops wanted for an absolute name, compared with the literal prefixes as a string. */
static __always_inline __u32 fim_prefix_ops(const __u8 *name, __u64 len)
{
	struct fim_tmp *tmp = fim_tmp_get();
	__u64 bytes = len < VJ_FIM_PREFIX_MAX ? len : VJ_FIM_PREFIX_MAX;
	__u32 *ops;

	if (!tmp)
		return ~0u;
	if (bpf_probe_read_kernel(tmp->key.data, bytes & 0xff, name))
		return ~0u;
	tmp->key.prefixlen = bytes * 8;
	ops = bpf_map_lookup_elem(&fim_prefixes, &tmp->key);
	return ops ? *ops : 0;
}

/*
 * Ops wanted for a target named by a string: `name` (len bytes, no NUL; at data[name_off] of this
 * CPU's scratch record) relative to `base` (the dirfd's file, the cwd, or the task's root when
 * `absolute`). `in_host_root` says that an absolute name means the same string on the host, so it can
 * be compared with the prefixes directly.
 */
static __always_inline __u32 fim_name_ops(struct dentry *base, struct vfsmount *base_mnt, const __u8 *name,
					  __u32 name_off, __u64 len, bool absolute, bool in_host_root, __u32 want)
{
	struct fim_near near;
	struct fim_scan scan;
	__u32 ops;

	if (len == 0) /* AT_EMPTY_PATH: the base itself */
		return fim_dentry_ops(base, base_mnt, want);
	fim_scan_name(name, name_off, len, &scan);
	if (scan.normalising)
		return want;
	if (absolute && in_host_root)
		return fim_prefix_ops(name, len);
	ops = fim_subtree_ops(base, base_mnt, want, &near);
	if (ops & want)
		return ops;
	if (absolute || scan.slash)
		return ops | near.ancestor0;
	if (near.named0 & want)
		ops |= fim_named_ops(base, name, len);
	return ops;
}

#endif /* VAJRA_FIM_FILTER_BPF_H */
