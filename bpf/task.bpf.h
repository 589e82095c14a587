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
 * array indexed by that level. The verifier refuses a variable index into a BTF pointer, so the entry is
 * read with a helper. */
static __always_inline void vj_pid_in_own_ns(struct pid *pid, __u32 *nr, __u32 *ns_inum)
{
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid upid = {};

	bpf_core_read(&upid, sizeof(upid), &pid->numbers[level]);
	*nr = upid.nr;
	*ns_inum = BPF_CORE_READ(upid.ns, ns.inum);
}

/* `task` must be the current task, and is read as such: the fields are loaded directly through the
 * BTF-typed current task (one load each, where a probe read costs a helper call per field), and the
 * cgroup id and comm come from helpers that read current. */
static __always_inline void vj_task_fill(struct vj_task *out, struct task_struct *task)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct task_struct *leader = cur->group_leader;
	const struct cred *cred = cur->real_cred;
	struct nsproxy *nsproxy = cur->nsproxy;

	out->ktime_ns = bpf_ktime_get_boot_ns();
	out->start_boottime_ns = leader->start_boottime;
	out->cgroup_id = bpf_get_current_cgroup_id();
	out->pid = cur->tgid;
	out->tid = cur->pid;
	out->ppid = cur->real_parent->tgid;
	/* The tgid's struct pid is the leader's; its last level is the namespace the process lives in
	 * (pid_ns_for_children would name where its next children go instead). */
	vj_pid_in_own_ns(BPF_CORE_READ(leader, thread_pid), &out->ns_pid, &out->ns.pid);

	out->uid = cred->uid.val;
	out->euid = cred->euid.val;
	out->gid = cred->gid.val;
	out->egid = cred->egid.val;
	if (bpf_core_field_exists(struct task_struct___audit, loginuid)) {
		struct task_struct___audit *audited = (void *)cur;

		out->auid = audited->loginuid.val;
		out->session_id = audited->sessionid;
	} else {
		out->auid = VJ_ID_UNSET;
		out->session_id = VJ_ID_UNSET;
	}

	/* nsproxy is NULL only for a task past exit_task_namespaces; BTF loads through NULL yield 0. */
	out->ns.mnt = nsproxy->mnt_ns->ns.inum;
	out->ns.net = nsproxy->net_ns->ns.inum;
	out->ns.uts = nsproxy->uts_ns->ns.inum;
	out->ns.ipc = nsproxy->ipc_ns->ns.inum;
	out->ns.cgroup = nsproxy->cgroup_ns->ns.inum;
	out->ns.user = cred->user_ns->ns.inum;

	bpf_get_current_comm(out->comm, sizeof(out->comm));
}

/* The kernel's name of the controlling terminal ("pts0", "tty1", "ttyS0"), or "" when there is none.
 * `task` must be a BTF pointer (bpf_get_current_task_btf()). */
static __always_inline void vj_task_tty(struct task_struct *task, char tty[VJ_TTY_LEN])
{
	struct tty_struct *ctty = task->signal->tty;

	tty[0] = '\0';
	if (ctty && bpf_core_read_str(tty, VJ_TTY_LEN, &ctty->name) < 0)
		tty[0] = '\0';
}

#endif /* VAJRA_TASK_BPF_H */
