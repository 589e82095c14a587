/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fills struct vj_task, the "who did it" part of every record, from the current task. All reads go
 * through CO-RE so one object runs on every kernel with BTF; fields that a kernel's configuration leaves
 * out are probed with bpf_core_field_exists and reported as "unset" rather than refused at load.
 */
#ifndef VAJRA_TASK_BPF_H
#define VAJRA_TASK_BPF_H

/* loginuid and sessionid exist only with CONFIG_AUDIT; this flavor keeps the program loadable without. */
struct task_struct___audit {
	kuid_t loginuid;
	unsigned int sessionid;
} __attribute__((preserve_access_index));

#define VJ_ID_UNSET 0xffffffffu

/* The namespace a pid was allocated in is the last level of its struct pid; `numbers` is a flexible
 * array indexed by that level. */
static __always_inline void vj_pid_in_own_ns(struct pid *pid, __u32 *nr, __u32 *ns_inum)
{
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid upid = {};

	bpf_core_read(&upid, sizeof(upid), &pid->numbers[level]);
	*nr = upid.nr;
	*ns_inum = BPF_CORE_READ(upid.ns, ns.inum);
}

/* `task` must be the current task: the cgroup id and comm come from helpers that read current. */
static __always_inline void vj_task_fill(struct vj_task *out, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	const struct cred *cred = BPF_CORE_READ(task, real_cred);
	struct nsproxy *nsproxy = BPF_CORE_READ(task, nsproxy);

	out->ktime_ns = bpf_ktime_get_boot_ns();
	out->start_boottime_ns = BPF_CORE_READ(leader, start_boottime);
	out->cgroup_id = bpf_get_current_cgroup_id();
	out->pid = pid_tgid >> 32;
	out->tid = (__u32)pid_tgid;
	out->ppid = BPF_CORE_READ(task, real_parent, tgid);
	/* The tgid's struct pid is the leader's; its last level is the namespace the process lives in
	 * (pid_ns_for_children would name where its next children go instead). */
	vj_pid_in_own_ns(BPF_CORE_READ(leader, thread_pid), &out->ns_pid, &out->ns.pid);

	out->uid = BPF_CORE_READ(cred, uid.val);
	out->euid = BPF_CORE_READ(cred, euid.val);
	out->gid = BPF_CORE_READ(cred, gid.val);
	out->egid = BPF_CORE_READ(cred, egid.val);
	if (bpf_core_field_exists(struct task_struct___audit, loginuid)) {
		struct task_struct___audit *audited = (void *)task;

		out->auid = BPF_CORE_READ(audited, loginuid.val);
		out->session_id = BPF_CORE_READ(audited, sessionid);
	} else {
		out->auid = VJ_ID_UNSET;
		out->session_id = VJ_ID_UNSET;
	}

	/* nsproxy is NULL only for a task past exit_task_namespaces; the reads then yield 0. */
	out->ns.mnt = BPF_CORE_READ(nsproxy, mnt_ns, ns.inum);
	out->ns.net = BPF_CORE_READ(nsproxy, net_ns, ns.inum);
	out->ns.uts = BPF_CORE_READ(nsproxy, uts_ns, ns.inum);
	out->ns.ipc = BPF_CORE_READ(nsproxy, ipc_ns, ns.inum);
	out->ns.cgroup = BPF_CORE_READ(nsproxy, cgroup_ns, ns.inum);
	out->ns.user = BPF_CORE_READ(cred, user_ns, ns.inum);

	bpf_get_current_comm(out->comm, sizeof(out->comm));
}

/* The kernel's name of the controlling terminal ("pts0", "tty1", "ttyS0"), or "" when there is none. */
static __always_inline void vj_task_tty(struct task_struct *task, char tty[VJ_TTY_LEN])
{
	struct tty_struct *ctty = BPF_CORE_READ(task, signal, tty);

	tty[0] = '\0';
	if (ctty && bpf_core_read_str(tty, VJ_TTY_LEN, &ctty->name) < 0)
		tty[0] = '\0';
}

#endif /* VAJRA_TASK_BPF_H */
