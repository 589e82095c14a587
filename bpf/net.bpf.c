// SPDX-License-Identifier: GPL-2.0
/*
 * The network family: bind, listen, accept, connect, close, the first datagram of each UDP flow, and the
 * payload of DNS messages (layouts in vajra_wire.h).
 *
 * Every record is made in the context of the syscall that caused it, from its per-syscall tracepoints:
 * the socket is read from the caller's fd table, so the process is the caller. The one exception is the
 * outcome of a non-blocking connect, which the kernel decides later, often in softirq context where the
 * current task is whoever was interrupted: it is taken from the inet_sock_set_state raw tracepoint for
 * sockets whose connect we saw, and attributed to the task recorded at connect.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vajra_wire.h"

#include "sock.bpf.h"
#include "task.bpf.h"

/* The largest record is a DNS message; its payload is copied from up to two buffers, each copy bounded
 * by VJ_DNS_PAYLOAD_MAX on its own, hence twice that room. */
#define VJ_SCRATCH_SIZE (sizeof(struct vj_dns_record) + 2 * VJ_DNS_PAYLOAD_MAX)
#include "emit.bpf.h"

_Static_assert(sizeof(struct vj_socket_record) + 2 * VJ_UNIX_PATH_MAX <= VJ_SCRATCH_SIZE,
	       "a socket record with two unix paths must fit the scratch slot");

#define VJ_DNS_PORT 53
#define VJ_DNS_HEADER_BYTES 12
#define VJ_EISCONN 106
#define VJ_EALREADY 114
/* Messages of one sendmmsg or recvmmsg looked at; glibc's resolver sends two at once (A and AAAA). */
#define VJ_MMSG_MAX 4

/* Set by the loader before load. */
const volatile bool report_udp_flows = false;
const volatile bool capture_dns = false;
const volatile __u64 udp_dedup_window_ns = 60000000000ull;
const volatile bool include_ports_set = false;
const volatile bool exclude_ports_set = false;
const volatile bool include_cidrs_set = false;
const volatile bool exclude_cidrs_set = false;

/* ---- config filters (filled by the loader) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VJ_NET_FILTER_MAX);
	__type(key, __u16);
	__type(value, __u8); /* enum vj_port_filter bits */
} port_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VJ_NET_FILTER_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required of LPM tries */
	__type(key, struct vj_cidr_key);
	__type(value, __u8);
} include_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VJ_NET_FILTER_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vj_cidr_key);
	__type(value, __u8);
} exclude_cidrs SEC(".maps");

static __always_inline bool port_listed(__u16 port, __u8 which)
{
	__u8 *bits = bpf_map_lookup_elem(&port_filter, &port);

	return bits && (*bits & which);
}

static __always_inline bool cidr_listed(void *map, const __u8 addr[16])
{
	struct vj_cidr_key key = {.prefixlen = 128};

	__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(map, &key) != NULL;
}

/* The config's port and CIDR filters, for inet sockets: ports match either end, CIDRs the remote end
 * (bind and listen have none, so CIDRs do not filter them). */
static __always_inline bool inet_wanted(const struct vj_sock_addr *local, const struct vj_sock_addr *remote,
					bool has_remote)
{
	if (include_ports_set && !port_listed(local->port, VJ_PORT_INCLUDE) &&
	    !port_listed(remote->port, VJ_PORT_INCLUDE))
		return false;
	if (exclude_ports_set &&
	    (port_listed(local->port, VJ_PORT_EXCLUDE) || port_listed(remote->port, VJ_PORT_EXCLUDE)))
		return false;
	if (!has_remote)
		return true;
	if (include_cidrs_set && !cidr_listed(&include_cidrs, remote->addr))
		return false;
	if (exclude_cidrs_set && cidr_listed(&exclude_cidrs, remote->addr))
		return false;
	return true;
}

static __always_inline bool is_inet(__u16 family)
{
	return family == VJ_AF_INET || family == VJ_AF_INET6;
}

/* ---- sockets we reported, for close ---- */

struct sock_seen {
	__u64 ino;      /* tells a recycled sock address from the socket we saw */
	__u64 since_ns; /* first bind, connect, accept or UDP flow reported */
	__u32 ops;      /* 1 << enum vj_sock_op, for each operation reported */
	__u32 connecting; /* a connect returned in progress: its entry in `connects` may still be there */
};

/* Keyed by sock address. LRU: a socket closed in a way net_close.bpf.h does not see (see there) keeps its
 * entry until it ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct sock_seen);
} socks SEC(".maps");

static __always_inline void remember_sock_connecting(const struct vj_sock_info *info, __u16 op, __u64 now,
						     __u32 connecting)
{
	__u64 key = (__u64)info->sk;
	struct sock_seen *seen = bpf_map_lookup_elem(&socks, &key);
	struct sock_seen fresh = {.ino = info->ino, .since_ns = now, .ops = 1u << op, .connecting = connecting};

	if (seen && seen->ino == info->ino) {
		seen->ops |= 1u << op;
		seen->connecting |= connecting;
		return;
	}
	bpf_map_update_elem(&socks, &key, &fresh, BPF_ANY);
}

static __always_inline void remember_sock(const struct vj_sock_info *info, __u16 op, __u64 now)
{
	remember_sock_connecting(info, op, now, 0);
}

/* ---- syscall arguments, from entry to exit ---- */

/* What a syscall's entry learned, for its exit. The socket is resolved at entry: the syscall holds a
 * reference to its file until it returns, so the sock stays valid even if another thread reuses the fd. */
struct call {
	__u64 sk;
	__u64 ino;
	__u64 addr; /* user sockaddr, msghdr or mmsghdr array */
	__u64 buf;  /* sendto/recvfrom: the payload buffer */
	__u64 aux;  /* recvfrom: pointer to the sockaddr length */
	__s32 fd;
	__u32 arg;  /* bind/connect/sendto: sockaddr length; listen: backlog */
	__u16 syscall;
	__u16 family;
	__u16 type;
	__u16 protocol;
};

/* Per thread, in task storage: found through the task with no hash and no lock once the thread has
 * its slot, and freed with the thread, so a thread killed in the syscall leaves nothing behind. A slot
 * whose `syscall` is 0 holds no call. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required of task storage */
	__type(key, int);
	__type(value, struct call);
} calls SEC(".maps");

static __always_inline void stash_call(const struct vj_sock_info *info, int fd, __u16 syscall, __u64 addr,
				       __u64 buf, __u64 aux, __u32 arg)
{
	struct call *call = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), NULL,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!call)
		return;
	call->sk = (__u64)info->sk;
	call->ino = info->ino;
	call->addr = addr;
	call->buf = buf;
	call->aux = aux;
	call->fd = fd;
	call->arg = arg;
	call->syscall = syscall;
	call->family = info->family;
	call->type = info->type;
	call->protocol = info->protocol;
}

/* The entry's arguments, if this thread's entry stashed them for this syscall. */
static __always_inline bool take_call(__u16 syscall, struct call *out)
{
	struct call *stashed = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), NULL, 0);

	if (!stashed || !stashed->syscall)
		return false;
	*out = *stashed;
	stashed->syscall = 0;
	return out->syscall == syscall;
}

static __always_inline struct vj_sock_info call_sock(const struct call *call)
{
	struct vj_sock_info info = {
		.sk = (struct sock *)call->sk,
		.ino = call->ino,
		.family = call->family,
		.type = call->type,
		.protocol = call->protocol,
	};

	return info;
}

/* ---- socket records ---- */

/* A path length read back from the record in map memory, bounded for the verifier (it never exceeds
 * the bound): a value loaded from a map carries no range. */
static __always_inline __u64 end_path_len(const struct vj_sock_addr *end)
{
	__u64 len = *(const volatile __u16 *)&end->path_len;

	return len < VJ_UNIX_PATH_MAX ? len : VJ_UNIX_PATH_MAX;
}

/* Starts a socket record in the scratch slot: the caller, the socket and both of its ends as the sock
 * holds them now. */
static __always_inline struct vj_socket_record *sock_record(const struct vj_sock_info *info, __u16 op,
							     __u16 syscall, int fd)
{
	struct vj_socket_record *rec = vj_scratch(VJ_REC_SOCKET);

	if (!rec)
		return NULL;
	__builtin_memset(rec, 0, sizeof(*rec));
	vj_task_fill(&rec->task, (struct task_struct *)bpf_get_current_task());
	rec->socket_ino = info->ino;
	rec->net_ns = vj_sock_netns(info->sk);
	rec->fd = fd;
	rec->op = op;
	rec->syscall = syscall;
	rec->family = info->family;
	rec->type = info->type;
	rec->protocol = info->protocol;
	if (info->family == VJ_AF_UNIX) {
		vj_unix_ends(info->sk, rec->data, &rec->local, &rec->remote);
	} else {
		vj_inet_ends(info->sk, info->family, &rec->local, &rec->remote);
	}
	return rec;
}

/* Replaces the remote end with the sockaddr the process passed. False when it is not one to report. */
static __always_inline bool remote_from_user(struct vj_socket_record *rec, __u64 uaddr, __u32 addrlen)
{
	if (rec->family == VJ_AF_UNIX) {
		rec->remote.path_len = vj_user_unix((const void *)uaddr, addrlen, rec->data + end_path_len(&rec->local));
		return rec->remote.path_len > 0;
	}
	return vj_user_inet((const void *)uaddr, addrlen, rec->family, &rec->remote);
}

/* Replaces the local end with the sockaddr the process passed, for a bind that failed. */
static __always_inline void local_from_user(struct vj_socket_record *rec, __u64 uaddr, __u32 addrlen)
{
	rec->remote.path_len = 0;
	if (rec->family == VJ_AF_UNIX)
		rec->local.path_len = vj_user_unix((const void *)uaddr, addrlen, rec->data);
	else
		vj_user_inet((const void *)uaddr, addrlen, rec->family, &rec->local);
}

static __always_inline bool sock_wanted(const struct vj_socket_record *rec, bool has_remote)
{
	return rec->family == VJ_AF_UNIX || inet_wanted(&rec->local, &rec->remote, has_remote);
}

/* The record's size, bounded for the verifier even when read back from map memory. */
static __always_inline __u64 sock_record_size(const struct vj_socket_record *rec)
{
	return sizeof(*rec) + end_path_len(&rec->local) + end_path_len(&rec->remote);
}

static __always_inline void sock_finish(struct vj_socket_record *rec, __u16 status, long error)
{
	rec->status = status;
	rec->error = (__s32)error;
	rec->hdr.kind = VJ_REC_SOCKET;
	rec->hdr.size = sock_record_size(rec);
}

static __always_inline void sock_emit(struct vj_socket_record *rec, __u16 status, long error)
{
	sock_finish(rec, status, error);
	vj_output(rec, sock_record_size(rec), VJ_REC_SOCKET);
}

/* ---- bind, listen ---- */

/* Stashes the arguments of a syscall on fd `fd` when it is a socket of a family we report. */
static __always_inline void enter_sock_call(int fd, __u16 syscall, __u64 addr, __u64 buf, __u64 aux, __u32 arg)
{
	struct vj_sock_info info = {};

	if (vj_fd_sock(fd, &info))
		stash_call(&info, fd, syscall, addr, buf, aux, arg);
}

SEC("tp/syscalls/sys_enter_bind")
int handle_bind_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_sock_call((int)ctx->args[0], VJ_SYS_BIND, ctx->args[1], 0, 0, (__u32)ctx->args[2]);
	return 0;
}

SEC("tp/syscalls/sys_exit_bind")
int handle_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_socket_record *rec;
	struct vj_sock_info info;
	struct call call;
	long ret = ctx->ret;

	if (!take_call(VJ_SYS_BIND, &call))
		return 0;
	info = call_sock(&call);
	rec = sock_record(&info, VJ_SOCK_BIND, VJ_SYS_BIND, call.fd);
	if (!rec)
		return 0;
	/* A successful bind has put the address, with the port the kernel chose for port 0, in the sock. */
	if (ret < 0)
		local_from_user(rec, call.addr, call.arg);
	if (!sock_wanted(rec, false))
		return 0;
	if (ret == 0)
		remember_sock(&info, VJ_SOCK_BIND, rec->task.ktime_ns);
	sock_emit(rec, ret == 0 ? VJ_SOCK_SUCCEEDED : VJ_SOCK_FAILED, -ret);
	return 0;
}

SEC("tp/syscalls/sys_enter_listen")
int handle_listen_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_sock_call((int)ctx->args[0], VJ_SYS_LISTEN, 0, 0, 0, (__u32)ctx->args[1]);
	return 0;
}

SEC("tp/syscalls/sys_exit_listen")
int handle_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_socket_record *rec;
	struct vj_sock_info info;
	struct call call;
	long ret = ctx->ret;

	if (!take_call(VJ_SYS_LISTEN, &call))
		return 0;
	info = call_sock(&call);
	rec = sock_record(&info, VJ_SOCK_LISTEN, VJ_SYS_LISTEN, call.fd);
	if (!rec || !sock_wanted(rec, false))
		return 0;
	rec->backlog = call.arg;
	if (ret == 0)
		remember_sock(&info, VJ_SOCK_LISTEN, rec->task.ktime_ns);
	sock_emit(rec, ret == 0 ? VJ_SOCK_SUCCEEDED : VJ_SOCK_FAILED, -ret);
	return 0;
}

/* ---- accept ---- */

static __always_inline void accept_exit(__u16 syscall, long ret)
{
	struct vj_socket_record *rec;
	struct vj_sock_info info = {};
	struct call call;

	if (!take_call(syscall, &call))
		return;
	if (ret >= 0) {
		/* The new socket is in the fd table by the time accept returns its number. */
		if (!vj_fd_sock((int)ret, &info))
			return;
		rec = sock_record(&info, VJ_SOCK_ACCEPT, syscall, (int)ret);
		if (!rec || !sock_wanted(rec, true))
			return;
		remember_sock(&info, VJ_SOCK_ACCEPT, rec->task.ktime_ns);
		sock_emit(rec, VJ_SOCK_SUCCEEDED, 0);
		return;
	}
	/* No connection: the record describes the listening socket. */
	info = call_sock(&call);
	rec = sock_record(&info, VJ_SOCK_ACCEPT, syscall, call.fd);
	if (!rec || !sock_wanted(rec, false))
		return;
	sock_emit(rec, ret == -VJ_EAGAIN ? VJ_SOCK_NO_CLIENT : VJ_SOCK_FAILED, -ret);
}

SEC("tp/syscalls/sys_enter_accept")
int handle_accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_sock_call((int)ctx->args[0], VJ_SYS_ACCEPT, 0, 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	accept_exit(VJ_SYS_ACCEPT, ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_enter_accept4")
int handle_accept4_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_sock_call((int)ctx->args[0], VJ_SYS_ACCEPT4, 0, 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	accept_exit(VJ_SYS_ACCEPT4, ctx->ret);
	return 0;
}

/* ---- connect, and the outcome of a non-blocking one ---- */

/*
 * A TCP connect from its syscall entry until its outcome is reported. On loopback the handshake often
 * completes inside connect() itself, before its exit tracepoint, and elsewhere the outcome can race
 * the exit on another CPU; `phase` settles who reports it, with compare-and-swap.
 */
enum connect_phase {
	CONNECT_IN_SYSCALL = 1, /* connect() has not returned */
	CONNECT_DECIDED = 2,    /* the outcome came first; the exit reports it after in_progress */
	CONNECT_AWAITING = 3,   /* connect() returned EINPROGRESS; the state change reports the outcome */
	CONNECT_REPORTED = 4,
};

struct connect_state {
	struct vj_task task; /* who connected */
	struct vj_sock_addr remote; /* as requested */
	struct vj_sock_addr local;  /* when the outcome was decided: a refused sock gives up its port */
	__u64 ino;
	__s32 fd;
	__u32 phase; /* enum connect_phase */
	__s32 error; /* the outcome: 0 connected, else a positive errno */
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* sock address */
	__type(value, struct connect_state);
} connects SEC(".maps");

/* Per-CPU room for a connect_state, which is too large for the BPF stack next to a record. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct connect_state);
} connect_scratch SEC(".maps");

/* The follow-up record of an in-progress connect, built from what was recorded at connect. Reserved
 * in the ring directly: it may run in softirq context, interrupting a program using the scratch slot. */
static __always_inline void report_outcome(struct connect_state *c, struct sock *sk)
{
	struct vj_socket_record *rec = vj_reserve(sizeof(*rec), VJ_REC_SOCKET);
	__u64 now = bpf_ktime_get_boot_ns();

	if (!rec)
		return;
	__builtin_memcpy(&rec->task, &c->task, sizeof(rec->task));
	rec->task.ktime_ns = now;
	rec->socket_ino = c->ino;
	rec->duration_ns = now - c->task.ktime_ns;
	rec->net_ns = vj_sock_netns(sk);
	rec->fd = c->fd;
	rec->error = c->error;
	rec->op = VJ_SOCK_CONNECT;
	rec->status = c->error ? VJ_SOCK_FAILED : VJ_SOCK_SUCCEEDED;
	rec->family = c->family;
	rec->type = c->type;
	rec->protocol = c->protocol;
	__builtin_memcpy(&rec->local, &c->local, sizeof(rec->local));
	__builtin_memcpy(&rec->remote, &c->remote, sizeof(rec->remote));
	rec->hdr.kind = VJ_REC_SOCKET;
	rec->hdr.flags = VJ_F_SOCK_FOLLOW_UP;
	rec->hdr.size = sizeof(*rec);
	vj_submit(rec);
}

SEC("tp/syscalls/sys_enter_connect")
int handle_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	int fd = (int)ctx->args[0];
	__u64 uaddr = ctx->args[1];
	__u32 addrlen = (__u32)ctx->args[2];
	struct vj_sock_info info = {};
	struct connect_state *c;
	__u32 zero = 0;
	__u64 key;

	if (!vj_fd_sock(fd, &info))
		return 0;
	stash_call(&info, fd, VJ_SYS_CONNECT, uaddr, 0, 0, addrlen);
	/* Only TCP decides later; everything else is done when connect returns. */
	if (info.type != VJ_SOCK_STREAM || !is_inet(info.family))
		return 0;
	c = bpf_map_lookup_elem(&connect_scratch, &zero);
	if (!c)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	if (!vj_user_inet((const void *)uaddr, addrlen, info.family, &c->remote))
		return 0;
	vj_task_fill(&c->task, (struct task_struct *)bpf_get_current_task());
	c->ino = info.ino;
	c->fd = fd;
	c->phase = CONNECT_IN_SYSCALL;
	c->family = info.family;
	c->type = info.type;
	c->protocol = info.protocol;
	key = (__u64)info.sk;
	bpf_map_update_elem(&connects, &key, c, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int handle_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_socket_record *rec;
	struct vj_sock_info info;
	struct connect_state *c;
	struct call call;
	long ret = ctx->ret;
	__u64 key;

	if (!take_call(VJ_SYS_CONNECT, &call))
		return 0;
	info = call_sock(&call);
	key = call.sk;
	/* A repeated connect on a socket already connecting or connected only polls its state; the outcome
	 * is reported once, from the first connect. */
	if (ret == -VJ_EALREADY || ret == -VJ_EISCONN)
		return 0;
	rec = sock_record(&info, VJ_SOCK_CONNECT, VJ_SYS_CONNECT, call.fd);
	/* The destination as requested: a failed connect has already cleared it from the sock. */
	if (!rec || !remote_from_user(rec, call.addr, call.arg)) {
		bpf_map_delete_elem(&connects, &key);
		return 0;
	}
	c = bpf_map_lookup_elem(&connects, &key);
	/* Decided inside connect() (on loopback, say): a refused sock has released its port by now. */
	if (c && c->phase == CONNECT_DECIDED)
		__builtin_memcpy(&rec->local, &c->local, sizeof(rec->local));
	if (!sock_wanted(rec, true)) {
		bpf_map_delete_elem(&connects, &key);
		return 0;
	}
	if (ret != -VJ_EINPROGRESS) {
		bpf_map_delete_elem(&connects, &key);
		if (ret == 0)
			remember_sock(&info, VJ_SOCK_CONNECT, rec->task.ktime_ns);
		sock_emit(rec, ret == 0 ? VJ_SOCK_SUCCEEDED : VJ_SOCK_FAILED, -ret);
		return 0;
	}
	remember_sock_connecting(&info, VJ_SOCK_CONNECT, rec->task.ktime_ns, c != NULL);
	sock_emit(rec, VJ_SOCK_IN_PROGRESS, VJ_EINPROGRESS);
	if (!c)
		return 0;
	/* Hand the outcome to the state change, unless it came first. */
	if (__sync_val_compare_and_swap(&c->phase, CONNECT_IN_SYSCALL, CONNECT_AWAITING) == CONNECT_DECIDED) {
		report_outcome(c, info.sk);
		bpf_map_delete_elem(&connects, &key);
	}
	return 0;
}

/*
 * Fires on every TCP state change, in whatever context made it. Only the end of SYN_SENT of a socket
 * whose connect we saw matters: established, or closed by a reset, a timeout or an ICMP error.
 *
 * A raw tracepoint, not tp/sock/: the kernel skips a classic tracepoint program that fires while any
 * other one runs on the same CPU, as it does when this state change comes in softirq on top of one of
 * our syscall programs; a raw tracepoint program is skipped only when it interrupts itself.
 * Arguments: (struct sock *sk, int oldstate, int newstate); the tracepoint runs before the new state
 * is stored, after a closing sock has released its local port number.
 */
SEC("raw_tp/inet_sock_set_state")
int handle_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];
	int oldstate = (int)ctx->args[1];
	int newstate = (int)ctx->args[2];
	struct vj_sock_addr ignored = {};
	struct connect_state *c;
	__u64 key = (__u64)sk;
	int error = 0;

	if (oldstate != BPF_TCP_SYN_SENT || (newstate != BPF_TCP_ESTABLISHED && newstate != BPF_TCP_CLOSE))
		return 0;
	c = bpf_map_lookup_elem(&connects, &key);
	if (!c)
		return 0;
	if (newstate == BPF_TCP_CLOSE) {
		/* tcp_done_with_error() sets sk_err (ECONNREFUSED for a reset) before it closes the sock. */
		error = BPF_CORE_READ(sk, sk_err);
		if (!error)
			error = VJ_ECONNABORTED;
	}
	c->error = error;
	/* The port number in inet_num is gone; inet_sport keeps it. */
	vj_inet_ends(sk, c->family, &c->local, &ignored);
	c->local.port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (__sync_val_compare_and_swap(&c->phase, CONNECT_AWAITING, CONNECT_REPORTED) == CONNECT_AWAITING) {
		report_outcome(c, sk);
		bpf_map_delete_elem(&connects, &key);
		return 0;
	}
	/* Still inside connect(): its exit reports this outcome right after in_progress, if it returns that. */
	__sync_val_compare_and_swap(&c->phase, CONNECT_IN_SYSCALL, CONNECT_DECIDED);
	return 0;
}

/* ---- close ---- */

/* Data bytes of a TCP socket. The kernel's counters follow sequence numbers: bytes_acked counts the SYN
 * of an active open and our acknowledged FIN, bytes_received the peer's FIN; those are taken out. */
static __always_inline void tcp_bytes(struct sock *sk, __u32 ops, struct vj_socket_record *rec)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);

	if ((ops & (1u << VJ_SOCK_CONNECT)) && acked > 0)
		acked--;
	if ((state == BPF_TCP_FIN_WAIT2 || state == BPF_TCP_TIME_WAIT) && acked > 0)
		acked--;
	/* SOCK_DONE: tcp_fin() saw the peer's FIN. */
	if ((flags & (1ul << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) && received > 0)
		received--;
	rec->bytes_sent = acked;
	rec->bytes_received = received;
	rec->hdr.flags |= VJ_F_SOCK_BYTES;
}

/* Builds, in the scratch slot, the close record of a socket we reported: its lifetime and TCP byte
 * counts. NULL for any other socket, after one map lookup. */
static __always_inline struct vj_socket_record *close_record(const struct vj_sock_info *info, int fd,
							      __u16 syscall, __u32 *connecting)
{
	struct vj_socket_record *rec;
	struct sock_seen *seen;
	__u64 key = (__u64)info->sk;
	__u64 since;
	__u32 ops;

	seen = bpf_map_lookup_elem(&socks, &key);
	if (!seen || seen->ino != info->ino)
		return NULL;
	since = seen->since_ns;
	ops = seen->ops;
	*connecting = seen->connecting;
	rec = sock_record(info, VJ_SOCK_CLOSE, syscall, fd);
	if (!rec)
		return NULL;
	rec->duration_ns = rec->task.ktime_ns - since;
	/* A listener moves no data of its own. */
	if (is_inet(info->family) && info->protocol == VJ_IPPROTO_TCP &&
	    (ops & ((1u << VJ_SOCK_CONNECT) | (1u << VJ_SOCK_ACCEPT))))
		tcp_bytes(info->sk, ops, rec);
	return rec;
}

/* A socket's entry in `connects` outlives the connect only when it returned in progress: each delete of
 * an absent key still costs a bucket lock. */
static __always_inline void forget_sock(__u64 key, __u32 connecting)
{
	bpf_map_delete_elem(&socks, &key);
	if (connecting)
		bpf_map_delete_elem(&connects, &key);
}

/* Reports the close of a socket we reported, and forgets it. */
static __always_inline void close_sock(const struct vj_sock_info *info, int fd, __u16 syscall)
{
	__u32 connecting = 0;
	struct vj_socket_record *rec = close_record(info, fd, syscall, &connecting);

	if (!rec)
		return;
	forget_sock((__u64)info->sk, connecting);
	sock_emit(rec, VJ_SOCK_SUCCEEDED, 0);
}

/* At entry, because at exit the fd no longer names the socket. Closes of anything but a socket stop
 * after a few reads. */
SEC("tp/syscalls/sys_enter_close")
int handle_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	int fd = (int)ctx->args[0];
	struct vj_sock_info info = {};

	if (vj_fd_sock(fd, &info))
		close_sock(&info, fd, VJ_SYS_CLOSE);
	return 0;
}

/* ---- datagrams and DNS messages ---- */

/* A payload as the process handed it over: up to two buffers (a TCP DNS message is often written as
 * its length prefix and its body). */
struct payload {
	__u64 base[2];
	__u64 len[2];
	__u64 total; /* bytes the syscall moved */
};

/* Whether a send or receive on this socket can be a UDP flow or a DNS message, decided at entry so that
 * every other socket costs one fd lookup. */
static __always_inline bool datagram_or_dns(const struct vj_sock_info *info, bool sending)
{
	struct sock *sk = info->sk;
	__u16 local_port, remote_port;

	if (!is_inet(info->family))
		return false;
	remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (info->type == VJ_SOCK_DGRAM && info->protocol == VJ_IPPROTO_UDP) {
		if (sending && report_udp_flows)
			return true;
		if (!capture_dns)
			return false;
		if (remote_port)
			return remote_port == VJ_DNS_PORT;
		/* Unconnected: the peer is known per datagram. A DNS server's own socket is not a client's. */
		local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		return local_port != VJ_DNS_PORT;
	}
	return info->type == VJ_SOCK_STREAM && capture_dns && remote_port == VJ_DNS_PORT;
}

static __always_inline void enter_datagram_call(int fd, __u16 syscall, bool sending, __u64 addr, __u64 buf,
						__u64 aux, __u32 arg)
{
	struct vj_sock_info info = {};

	if (vj_fd_sock(fd, &info) && datagram_or_dns(&info, sending))
		stash_call(&info, fd, syscall, addr, buf, aux, arg);
}

struct flow_key {
	__u8 local[16];
	__u8 remote[16];
	__u32 net_ns;
	__u16 local_port;
	__u16 remote_port;
};

/* When each UDP flow was last reported. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, __u64);
} udp_flows SEC(".maps");

static __always_inline void flow_key_fill(struct flow_key *key, struct sock *sk, const struct vj_sock_addr *local,
					  const struct vj_sock_addr *remote)
{
	__builtin_memcpy(key->local, local->addr, 16);
	__builtin_memcpy(key->remote, remote->addr, 16);
	key->net_ns = vj_sock_netns(sk);
	key->local_port = local->port;
	key->remote_port = remote->port;
}

/* Whether the flow was reported less than udp_dedup_window_ns ago. */
static __always_inline bool flow_recent(const struct flow_key *key, __u64 now)
{
	__u64 *last = bpf_map_lookup_elem(&udp_flows, key);

	return last && now - *last < udp_dedup_window_ns;
}

/* Reports the first datagram of a flow, and again the first one after udp_dedup_window_ns has passed
 * since the flow was last reported. The flow is looked up before anything else: every datagram of a
 * chatty socket comes through here. */
static __always_inline void udp_flow(const struct call *call, const struct vj_sock_addr *remote, __u16 syscall)
{
	struct vj_sock_info info = call_sock(call);
	struct vj_sock_addr local = {}, ignored = {};
	struct vj_socket_record *rec;
	struct flow_key key = {};
	__u64 now = bpf_ktime_get_boot_ns();

	vj_inet_ends(info.sk, info.family, &local, &ignored);
	flow_key_fill(&key, info.sk, &local, remote);
	if (flow_recent(&key, now))
		return;
	bpf_map_update_elem(&udp_flows, &key, &now, BPF_ANY);
	rec = sock_record(&info, VJ_SOCK_UDP_FLOW, syscall, call->fd);
	if (!rec)
		return;
	__builtin_memcpy(&rec->remote, remote, sizeof(rec->remote));
	if (!sock_wanted(rec, true))
		return;
	remember_sock(&info, VJ_SOCK_UDP_FLOW, now);
	sock_emit(rec, VJ_SOCK_SUCCEEDED, 0);
}

/* Copies up to VJ_DNS_PAYLOAD_MAX bytes of the payload into `dst` (2 * VJ_DNS_PAYLOAD_MAX bytes of
 * map memory). Returns the bytes copied. */
static __always_inline __u32 copy_payload(__u8 *dst, const struct payload *payload)
{
	__u64 want = payload->total < VJ_DNS_PAYLOAD_MAX ? payload->total : VJ_DNS_PAYLOAD_MAX;
	__u64 first = payload->len[0] < want ? payload->len[0] : want;
	__u64 second;

	barrier_var(first);
	if (first > VJ_DNS_PAYLOAD_MAX)
		return 0;
	if (first && bpf_probe_read_user(dst, first, (const void *)payload->base[0]))
		return 0;
	second = want - first;
	if (second > payload->len[1])
		second = payload->len[1];
	barrier_var(second);
	if (second == 0 || second > VJ_DNS_PAYLOAD_MAX)
		return first;
	if (bpf_probe_read_user(dst + first, second, (const void *)payload->base[1]))
		return first;
	return first + second;
}

static __always_inline void dns_message(const struct call *call, const struct vj_sock_addr *remote,
					const struct payload *payload, __u16 direction, __u16 syscall)
{
	struct vj_dns_record *rec;
	struct vj_sock_addr ignored = {};
	__u32 copied;

	/* A DNS message is at least its 12-byte header: a shorter write on TCP is the 2-byte length
	 * prefix sent on its own, and its body follows in the next one. */
	if (call->protocol == VJ_IPPROTO_TCP && payload->total < VJ_DNS_HEADER_BYTES)
		return;
	rec = vj_scratch(VJ_REC_DNS);
	if (!rec)
		return;
	__builtin_memset(rec, 0, sizeof(*rec));
	vj_task_fill(&rec->task, (struct task_struct *)bpf_get_current_task());
	rec->socket_ino = call->ino;
	rec->net_ns = vj_sock_netns((struct sock *)call->sk);
	rec->direction = direction;
	rec->syscall = syscall;
	rec->family = call->family;
	rec->protocol = call->protocol;
	vj_inet_ends((struct sock *)call->sk, call->family, &rec->local, &ignored);
	__builtin_memcpy(&rec->remote, remote, sizeof(rec->remote));
	if (!inet_wanted(&rec->local, &rec->remote, true))
		return;
	copied = copy_payload(rec->data, payload);
	if (copied == 0)
		return;
	rec->payload_len = copied;
	rec->msg_len = payload->total;
	rec->hdr.kind = VJ_REC_DNS;
	rec->hdr.size = sizeof(*rec) + copied;
	vj_output(rec, sizeof(*rec) + copied, VJ_REC_DNS);
}

/* The peer of a datagram: the sockaddr given with it, or else the connected peer. */
static __always_inline bool datagram_peer(const struct call *call, __u64 uaddr, __u32 addrlen,
					  struct vj_sock_addr *remote)
{
	struct vj_sock_addr ignored = {};

	if (uaddr && addrlen)
		return vj_user_inet((const void *)uaddr, addrlen, call->family, remote);
	vj_inet_ends((struct sock *)call->sk, call->family, &ignored, remote);
	return remote->port != 0;
}

static __always_inline void on_message(const struct call *call, const struct vj_sock_addr *remote,
				       const struct payload *payload, bool sending, __u16 syscall)
{
	if (sending && report_udp_flows && call->type == VJ_SOCK_DGRAM)
		udp_flow(call, remote, syscall);
	if (capture_dns && remote->port == VJ_DNS_PORT)
		dns_message(call, remote, payload, sending ? VJ_DNS_SENT : VJ_DNS_RECEIVED, syscall);
}

/* A struct user_msghdr in user memory: its peer and its first two buffers. */
static __always_inline bool read_msghdr(const struct call *call, __u64 umsg, __u64 moved,
					struct vj_sock_addr *remote, struct payload *payload)
{
	struct user_msghdr msg = {};
	struct iovec iov[2] = {};

	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)umsg))
		return false;
	if (!datagram_peer(call, (__u64)msg.msg_name, msg.msg_name ? msg.msg_namelen : 0, remote))
		return false;
	if (msg.msg_iovlen > 0 && bpf_probe_read_user(&iov[0], sizeof(iov[0]), msg.msg_iov))
		return false;
	if (msg.msg_iovlen > 1 && bpf_probe_read_user(&iov[1], sizeof(iov[1]), msg.msg_iov + 1))
		return false;
	payload->base[0] = (__u64)iov[0].iov_base;
	payload->len[0] = iov[0].iov_len;
	payload->base[1] = (__u64)iov[1].iov_base;
	payload->len[1] = iov[1].iov_len;
	payload->total = moved;
	return true;
}

SEC("tp/syscalls/sys_enter_sendto")
int handle_sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	/* sendto(fd, buf, len, flags, addr, addrlen) */
	enter_datagram_call((int)ctx->args[0], VJ_SYS_SENDTO, true, ctx->args[4], ctx->args[1], 0,
			    (__u32)ctx->args[5]);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendto")
int handle_sendto_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_sock_addr remote = {};
	struct payload payload = {};
	struct call call;

	if (!take_call(VJ_SYS_SENDTO, &call) || ctx->ret < 0)
		return 0;
	if (!datagram_peer(&call, call.addr, call.arg, &remote))
		return 0;
	payload.base[0] = call.buf;
	payload.len[0] = ctx->ret;
	payload.total = ctx->ret;
	on_message(&call, &remote, &payload, true, VJ_SYS_SENDTO);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendmsg")
int handle_sendmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_datagram_call((int)ctx->args[0], VJ_SYS_SENDMSG, true, ctx->args[1], 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendmsg")
int handle_sendmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_sock_addr remote = {};
	struct payload payload = {};
	struct call call;

	if (!take_call(VJ_SYS_SENDMSG, &call) || ctx->ret < 0)
		return 0;
	if (read_msghdr(&call, call.addr, ctx->ret, &remote, &payload))
		on_message(&call, &remote, &payload, true, VJ_SYS_SENDMSG);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendmmsg")
int handle_sendmmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_datagram_call((int)ctx->args[0], VJ_SYS_SENDMMSG, true, ctx->args[1], 0, 0, 0);
	return 0;
}

/* sendmmsg and recvmmsg return how many messages they moved, and store each one's size in its msg_len. */
static __always_inline void mmsg_exit(const struct call *call, long count, bool sending, __u16 syscall)
{
	for (int i = 0; i < VJ_MMSG_MAX && i < count; i++) {
		const struct mmsghdr *msgs = (const struct mmsghdr *)call->addr;
		struct vj_sock_addr remote = {};
		struct payload payload = {};
		__u32 moved = 0;

		if (bpf_probe_read_user(&moved, sizeof(moved), &msgs[i].msg_len))
			break;
		if (read_msghdr(call, (__u64)&msgs[i].msg_hdr, moved, &remote, &payload))
			on_message(call, &remote, &payload, sending, syscall);
	}
}

SEC("tp/syscalls/sys_exit_sendmmsg")
int handle_sendmmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct call call;

	if (take_call(VJ_SYS_SENDMMSG, &call) && ctx->ret > 0)
		mmsg_exit(&call, ctx->ret, true, VJ_SYS_SENDMMSG);
	return 0;
}

SEC("tp/syscalls/sys_enter_recvfrom")
int handle_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
	/* recvfrom(fd, buf, len, flags, addr, addrlen pointer) */
	enter_datagram_call((int)ctx->args[0], VJ_SYS_RECVFROM, false, ctx->args[4], ctx->args[1], ctx->args[5], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_recvfrom")
int handle_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_sock_addr remote = {};
	struct payload payload = {};
	struct call call;
	__u32 addrlen = 0;

	if (!take_call(VJ_SYS_RECVFROM, &call) || ctx->ret <= 0)
		return 0;
	/* The kernel has written the sender's address and its length. */
	if (call.addr && call.aux && bpf_probe_read_user(&addrlen, sizeof(addrlen), (const void *)call.aux))
		return 0;
	if (!datagram_peer(&call, call.addr, addrlen, &remote))
		return 0;
	payload.base[0] = call.buf;
	payload.len[0] = ctx->ret;
	payload.total = ctx->ret;
	on_message(&call, &remote, &payload, false, VJ_SYS_RECVFROM);
	return 0;
}

SEC("tp/syscalls/sys_enter_recvmsg")
int handle_recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_datagram_call((int)ctx->args[0], VJ_SYS_RECVMSG, false, ctx->args[1], 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_recvmsg")
int handle_recvmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vj_sock_addr remote = {};
	struct payload payload = {};
	struct call call;

	if (!take_call(VJ_SYS_RECVMSG, &call) || ctx->ret <= 0)
		return 0;
	if (read_msghdr(&call, call.addr, ctx->ret, &remote, &payload))
		on_message(&call, &remote, &payload, false, VJ_SYS_RECVMSG);
	return 0;
}

SEC("tp/syscalls/sys_enter_recvmmsg")
int handle_recvmmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	enter_datagram_call((int)ctx->args[0], VJ_SYS_RECVMMSG, false, ctx->args[1], 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_recvmmsg")
int handle_recvmmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct call call;

	if (take_call(VJ_SYS_RECVMMSG, &call) && ctx->ret > 0)
		mmsg_exit(&call, ctx->ret, false, VJ_SYS_RECVMMSG);
	return 0;
}

/* read/write and their vector forms on sockets, and sockets closed without close(2) (exit, exec, dup2):
 * each in its own header, built on the maps and helpers above. */
#include "net_rw.bpf.h"
#include "net_close.bpf.h"

char LICENSE[] SEC("license") = "GPL";
