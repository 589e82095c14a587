/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Part of net.bpf.c: UDP flows and DNS messages moved with write, writev, read and readv on a connected
 * socket (any connected UDP client, busybox nslookup, glibc's resolver over TCP).
 *
 * These syscalls run for every file and pipe written or read, so both ends are built to give up early:
 * the entry stops at the inode mode of anything but a socket, and at the connected port of any socket
 * but a UDP one or a TCP one to port 53; the exit stops at one load while no call is pending.
 */
#ifndef VAJRA_NET_RW_BPF_H
#define VAJRA_NET_RW_BPF_H

/* iovecs of one writev or readv looked at: glibc writes two TCP queries as four (length, body, ...). */
#define VJ_IOV_MAX 4

/* Calls waiting for their exit, keyed by tid. Apart from `calls`, so that rw_pending can count them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct call);
} rw_calls SEC(".maps");

/* Entries in rw_calls. An entry the LRU evicts stays counted: the count can only err high, which costs
 * a map lookup per exit, never a missed call. */
__u64 rw_pending = 0;

/* The file behind fd `fd` of the current task. The fd table is reached by direct loads through BTF, a
 * fraction of the cost of a helper call per field; the slot itself is in an array of pointers the
 * verifier has no type for, so it is read with a helper. */
static __always_inline struct file *rw_fd_file(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]);
	return file;
}

/* Fills `info` when fd `fd` is a connected inet socket whose data can be a UDP flow (sending) or a DNS
 * message (then *dns is set). Read and write carry no address: only a connected socket names the peer. */
static __always_inline bool rw_sock(int fd, bool sending, struct vj_sock_info *info, bool *dns)
{
	struct file *file = rw_fd_file(fd);
	struct socket *socket;
	struct sock *sk;
	__u16 remote_port;

	if (!file)
		return false;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & VJ_S_IFMT) != VJ_S_IFSOCK)
		return false;
	socket = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(socket, sk);
	if (!sk)
		return false;
	/* 0 for an unconnected socket, and for sockets of other families (unix ones never set it). */
	remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (remote_port == 0)
		return false;
	*dns = capture_dns && remote_port == VJ_DNS_PORT;
	if (!*dns && !(sending && report_udp_flows))
		return false;
	info->sk = sk;
	info->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	info->type = BPF_CORE_READ(sk, sk_type);
	info->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (!is_inet(info->family))
		return false;
	if (!(info->type == VJ_SOCK_DGRAM && info->protocol == VJ_IPPROTO_UDP) && !(*dns && info->type == VJ_SOCK_STREAM))
		return false;
	info->ino = BPF_CORE_READ(file, f_inode, i_ino);
	return true;
}

/* Whether the flow of a connected UDP socket was reported less than the dedup window ago. */
static __always_inline bool connected_flow_recent(const struct vj_sock_info *info)
{
	struct vj_sock_addr local = {}, remote = {};
	struct flow_key key = {};

	vj_inet_ends(info->sk, info->family, &local, &remote);
	flow_key_fill(&key, info->sk, &local, &remote);
	return flow_recent(&key, bpf_ktime_get_boot_ns());
}

static __always_inline void enter_rw_call(int fd, __u16 syscall, bool sending, __u64 buf, __u32 count)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vj_sock_info info = {};
	struct call call = {};
	bool dns = false;

	if (!rw_sock(fd, sending, &info, &dns))
		return;
	/* No DNS, and a flow already reported: nothing for the exit to do. Most datagrams of a chatty
	 * socket end here, without the stash and its lookups at the exit. */
	if (!dns && connected_flow_recent(&info))
		return;
	call.sk = (__u64)info.sk;
	call.ino = info.ino;
	call.buf = buf;
	call.fd = fd;
	call.arg = count;
	call.syscall = syscall;
	call.family = info.family;
	call.type = info.type;
	call.protocol = info.protocol;
	/* An entry already there is a call whose exit was missed, and is counted. */
	if (bpf_map_update_elem(&rw_calls, &tid, &call, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&rw_pending, 1);
	else
		bpf_map_update_elem(&rw_calls, &tid, &call, BPF_ANY);
}

/* The entry's arguments, if this thread's entry stashed them for this syscall. */
static __always_inline bool take_rw_call(__u16 syscall, struct call *out)
{
	__u32 tid;
	struct call *stashed;

	/* Nearly always 0: the exit of a write to a file ends here. */
	if (*(volatile __u64 *)&rw_pending == 0)
		return false;
	tid = (__u32)bpf_get_current_pid_tgid();
	stashed = bpf_map_lookup_elem(&rw_calls, &tid);
	if (!stashed)
		return false;
	*out = *stashed;
	if (bpf_map_delete_elem(&rw_calls, &tid) == 0)
		__sync_fetch_and_sub(&rw_pending, 1);
	return out->syscall == syscall;
}

/* write and read: one buffer, to or from the connected peer. */
static __always_inline void rw_exit(long moved, bool sending, __u16 syscall)
{
	struct vj_sock_addr remote = {};
	struct payload payload = {};
	struct call call;

	if (!take_rw_call(syscall, &call) || moved <= 0)
		return;
	if (!datagram_peer(&call, 0, 0, &remote))
		return;
	payload.base[0] = call.buf;
	payload.len[0] = moved;
	payload.total = moved;
	on_message(&call, &remote, &payload, sending, syscall);
}

/* writev and readv: one datagram, or on TCP a message per (2-byte length, body) pair of iovecs as a DNS
 * client lays them out; anything else as one message from the first two iovecs. */
static __always_inline void rwv_exit(long moved, bool sending, __u16 syscall)
{
	struct iovec iov[VJ_IOV_MAX] = {};
	struct vj_sock_addr remote = {};
	struct payload payload = {};
	struct call call;
	__u32 count;

	if (!take_rw_call(syscall, &call) || moved <= 0)
		return;
	count = call.arg < VJ_IOV_MAX ? call.arg : VJ_IOV_MAX;
	barrier_var(count);
	if (count == 0 || count > VJ_IOV_MAX || bpf_probe_read_user(iov, count * sizeof(iov[0]), (const void *)call.buf))
		return;
	if (!datagram_peer(&call, 0, 0, &remote))
		return;
	if (call.protocol == VJ_IPPROTO_TCP && iov[0].iov_len == 2) {
		for (int i = 0; i + 1 < VJ_IOV_MAX && i + 1 < count && moved > 0; i += 2) {
			if (iov[i].iov_len != 2)
				break;
			payload.base[0] = (__u64)iov[i].iov_base;
			payload.len[0] = 2;
			payload.base[1] = (__u64)iov[i + 1].iov_base;
			payload.len[1] = iov[i + 1].iov_len;
			payload.total = 2 + iov[i + 1].iov_len < moved ? 2 + iov[i + 1].iov_len : moved;
			moved -= payload.total;
			on_message(&call, &remote, &payload, sending, syscall);
		}
		return;
	}
	payload.base[0] = (__u64)iov[0].iov_base;
	payload.len[0] = iov[0].iov_len;
	payload.base[1] = (__u64)iov[1].iov_base;
	payload.len[1] = iov[1].iov_len;
	payload.total = moved;
	on_message(&call, &remote, &payload, sending, syscall);
}

/* The exits are attached before the entries (see probes.cpp), so that no entry stashes a call whose exit
 * is not watched yet. */

SEC("tp/syscalls/sys_enter_write")
int handle_write_enter(struct trace_event_raw_sys_enter *ctx)
{
	/* write(fd, buf, count) */
	enter_rw_call((int)ctx->args[0], VJ_SYS_WRITE, true, ctx->args[1], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_write")
int handle_write_exit(struct trace_event_raw_sys_exit *ctx)
{
	rw_exit(ctx->ret, true, VJ_SYS_WRITE);
	return 0;
}

SEC("tp/syscalls/sys_enter_writev")
int handle_writev_enter(struct trace_event_raw_sys_enter *ctx)
{
	/* writev(fd, iov, iovcnt) */
	enter_rw_call((int)ctx->args[0], VJ_SYS_WRITEV, true, ctx->args[1], (__u32)ctx->args[2]);
	return 0;
}

SEC("tp/syscalls/sys_exit_writev")
int handle_writev_exit(struct trace_event_raw_sys_exit *ctx)
{
	rwv_exit(ctx->ret, true, VJ_SYS_WRITEV);
	return 0;
}

SEC("tp/syscalls/sys_enter_read")
int handle_read_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_rw_call((int)ctx->args[0], VJ_SYS_READ, false, ctx->args[1], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_read")
int handle_read_exit(struct trace_event_raw_sys_exit *ctx)
{
	rw_exit(ctx->ret, false, VJ_SYS_READ);
	return 0;
}

SEC("tp/syscalls/sys_enter_readv")
int handle_readv_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_rw_call((int)ctx->args[0], VJ_SYS_READV, false, ctx->args[1], (__u32)ctx->args[2]);
	return 0;
}

SEC("tp/syscalls/sys_exit_readv")
int handle_readv_exit(struct trace_event_raw_sys_exit *ctx)
{
	rwv_exit(ctx->ret, false, VJ_SYS_READV);
	return 0;
}

#endif /* VAJRA_NET_RW_BPF_H */
