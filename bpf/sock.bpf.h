/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sockets as the kernel holds them: from an fd of the current task to its struct sock, and the sock's
 * family, type, protocol, addresses and network namespace. Also the sockaddr a process passed in, for
 * what the sock no longer (or not yet) holds: a failed connect clears the destination, a failed bind
 * never sets the address.
 */
#ifndef VAJRA_SOCK_BPF_H
#define VAJRA_SOCK_BPF_H

#include "fdtable.bpf.h"

/* Not in vmlinux.h: these are macros in the kernel's uapi headers. */
#define VJ_AF_UNSPEC 0
#define VJ_AF_UNIX 1
#define VJ_AF_INET 2
#define VJ_AF_INET6 10
#define VJ_SOCK_STREAM 1
#define VJ_SOCK_DGRAM 2
#define VJ_IPPROTO_TCP 6
#define VJ_IPPROTO_UDP 17
#define VJ_S_IFMT 0170000
#define VJ_S_IFSOCK 0140000
#define VJ_EAGAIN 11
#define VJ_ECONNABORTED 103
#define VJ_EINPROGRESS 115

/* What a program needs to know of a socket to decide whether to report it. */
struct vj_sock_info {
	struct sock *sk;
	__u64 ino;
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 pad;
};

static __always_inline bool vj_family_wanted(__u16 family)
{
	return family == VJ_AF_INET || family == VJ_AF_INET6 || family == VJ_AF_UNIX;
}

/* Fills `info` when `file` is a socket. Any other file stops at its inode's mode, so that the close of a
 * regular file costs a few reads. */
static __always_inline bool vj_file_sock(struct file *file, struct vj_sock_info *info)
{
	struct inode *inode;
	struct socket *socket;
	struct sock *sk;

	if (!file)
		return false;
	inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & VJ_S_IFMT) != VJ_S_IFSOCK)
		return false;
	socket = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(socket, sk);
	if (!sk)
		return false;
	info->sk = sk;
	info->ino = BPF_CORE_READ(inode, i_ino);
	info->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	info->type = BPF_CORE_READ(sk, sk_type);
	info->protocol = BPF_CORE_READ(sk, sk_protocol);
	return true;
}

/* The socket behind fd `fd` of the current task, if it is one of the families we report. The fd table
 * is reached by direct loads through the BTF-typed task (a probe read is a helper call per field); the
 * slot is in an array of pointers the verifier has no type for, so it is read with a helper. */
static __always_inline bool vj_fd_sock(int fd, struct vj_sock_info *info)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= fdt->max_fds)
		return false;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]))
		return false;
	return vj_file_sock(file, info) && vj_family_wanted(info->family);
}

static __always_inline __u32 vj_sock_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline void vj_v4_mapped(__u8 addr[16], __u32 v4)
{
	__builtin_memset(addr, 0, 10);
	addr[10] = 0xff;
	addr[11] = 0xff;
	__builtin_memcpy(addr + 12, &v4, 4);
}

/* Local and remote address and port of an inet sock, IPv4 written v4-mapped. An end that is not set
 * has port 0. */
/* The head of sock_common: skc_daddr, skc_rcv_saddr, skc_hash, skc_dport, skc_num, in one read instead
 * of four helper calls. Fields are picked at their CO-RE offsets from skc_daddr. */
#define VJ_SKC_HEAD 16

static __always_inline __u64 vj_skc_off(__u64 field_off)
{
	return field_off - bpf_core_field_offset(struct sock, __sk_common.skc_daddr);
}

/* Local and remote address and port of an inet sock, IPv4 written v4-mapped. An end that is not set
 * has port 0. */
static __always_inline void vj_inet_ends(struct sock *sk, __u16 family, struct vj_sock_addr *local,
					 struct vj_sock_addr *remote)
{
	__u8 head[VJ_SKC_HEAD] = {};
	__u64 o_rcv = vj_skc_off(bpf_core_field_offset(struct sock, __sk_common.skc_rcv_saddr));
	__u64 o_dport = vj_skc_off(bpf_core_field_offset(struct sock, __sk_common.skc_dport));
	__u64 o_num = vj_skc_off(bpf_core_field_offset(struct sock, __sk_common.skc_num));

	/* The layout has been this since Linux 3.x; a kernel that moved the fields gets the slow reads. */
	if (o_rcv + 4 > VJ_SKC_HEAD || o_dport + 2 > VJ_SKC_HEAD || o_num + 2 > VJ_SKC_HEAD ||
	    bpf_probe_read_kernel(head, sizeof(head), &sk->__sk_common.skc_daddr)) {
		local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (family == VJ_AF_INET) {
			vj_v4_mapped(local->addr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
			vj_v4_mapped(remote->addr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
		} else {
			BPF_CORE_READ_INTO(&local->addr, sk, __sk_common.skc_v6_rcv_saddr);
			BPF_CORE_READ_INTO(&remote->addr, sk, __sk_common.skc_v6_daddr);
		}
		return;
	}
	local->port = *(__u16 *)&head[o_num];
	remote->port = bpf_ntohs(*(__u16 *)&head[o_dport]);
	if (family == VJ_AF_INET) {
		vj_v4_mapped(local->addr, *(__u32 *)&head[o_rcv]);
		vj_v4_mapped(remote->addr, *(__u32 *)head);
	} else {
		BPF_CORE_READ_INTO(&local->addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&remote->addr, sk, __sk_common.skc_v6_daddr);
	}
}

/* Copies the sun_path bytes of a unix sock's bound address (its length is the addrlen it was bound
 * with, less sun_family) into `path`, VJ_UNIX_PATH_MAX bytes of map memory. Returns the bytes written. */
static __always_inline __u16 vj_unix_addr_path(struct unix_address *addr, __u8 *path)
{
	int len;
	__u32 n;

	if (!addr)
		return 0;
	len = BPF_CORE_READ(addr, len);
	n = len > 2 ? len - 2 : 0; /* less sun_family */
	if (n > VJ_UNIX_PATH_MAX)
		n = VJ_UNIX_PATH_MAX;
	barrier_var(n);
	if (n == 0 || n > VJ_UNIX_PATH_MAX)
		return 0;
	if (bpf_probe_read_kernel(path, n, &addr->name[0].sun_path))
		return 0;
	return n;
}

/* Paths of a unix sock: its own bound address and its peer's. Written at `paths` (room for two
 * VJ_UNIX_PATH_MAX sections), local first. */
static __always_inline void vj_unix_ends(struct sock *sk, __u8 *paths, struct vj_sock_addr *local,
					 struct vj_sock_addr *remote)
{
	struct unix_sock *self = (struct unix_sock *)sk;
	struct unix_sock *peer = (struct unix_sock *)BPF_CORE_READ(self, peer);
	__u16 n = vj_unix_addr_path(BPF_CORE_READ(self, addr), paths);

	local->path_len = n;
	barrier_var(n);
	if (n > VJ_UNIX_PATH_MAX)
		n = VJ_UNIX_PATH_MAX;
	remote->path_len = peer ? vj_unix_addr_path(BPF_CORE_READ(peer, addr), paths + n) : 0;
}

/* The address family of a sockaddr the process passed (or the kernel filled in); AF_UNSPEC when it
 * cannot be read. */
static __always_inline __u16 vj_user_family(const void *uaddr, __u32 addrlen)
{
	__u16 sa_family = VJ_AF_UNSPEC;

	if (!uaddr || addrlen < sizeof(sa_family) || bpf_probe_read_user(&sa_family, sizeof(sa_family), uaddr))
		return VJ_AF_UNSPEC;
	return sa_family;
}

/* Reads an inet sockaddr into `end` for a socket of `sock_family`. False when it is unreadable or not an
 * inet address that socket can use (AF_UNSPEC, for one, dissolves a UDP association). */
static __always_inline bool vj_user_inet(const void *uaddr, __u32 addrlen, __u16 sock_family,
					 struct vj_sock_addr *end)
{
	__u16 sa_family = vj_user_family(uaddr, addrlen);

	if (sa_family == VJ_AF_INET && (sock_family == VJ_AF_INET || sock_family == VJ_AF_INET6)) {
		struct sockaddr_in in = {};

		if (addrlen < sizeof(in) || bpf_probe_read_user(&in, sizeof(in), uaddr))
			return false;
		vj_v4_mapped(end->addr, in.sin_addr.s_addr);
		end->port = bpf_ntohs(in.sin_port);
		return true;
	}
	if (sa_family == VJ_AF_INET6 && sock_family == VJ_AF_INET6) {
		struct sockaddr_in6 in6 = {};

		if (addrlen < sizeof(in6) || bpf_probe_read_user(&in6, sizeof(in6), uaddr))
			return false;
		__builtin_memcpy(end->addr, &in6.sin6_addr, 16);
		end->port = bpf_ntohs(in6.sin6_port);
		return true;
	}
	return false;
}

/* Copies the sun_path bytes of a unix sockaddr to `path` (VJ_UNIX_PATH_MAX bytes of map memory).
 * Returns the bytes copied, 0 when it is unreadable or not a unix address. */
static __always_inline __u16 vj_user_unix(const void *uaddr, __u32 addrlen, __u8 *path)
{
	__u32 n;

	if (vj_user_family(uaddr, addrlen) != VJ_AF_UNIX)
		return 0;
	n = addrlen - sizeof(__u16);
	if (n > VJ_UNIX_PATH_MAX)
		n = VJ_UNIX_PATH_MAX;
	barrier_var(n);
	if (n == 0 || n > VJ_UNIX_PATH_MAX)
		return 0;
	if (bpf_probe_read_user(path, n, (const __u8 *)uaddr + sizeof(__u16)))
		return 0;
	return n;
}

#endif /* VAJRA_SOCK_BPF_H */
