/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Record output shared by every probe family. A family's .bpf.c defines VJ_SCRATCH_SIZE (its largest
 * record, plus VJ_WALK_SLACK when it walks names) and then includes this header once. Every family
 * object thereby has the three maps the loader knows by name:
 *   events   the family's ring buffer; the loader sizes it from config
 *   drops    per-CPU loss counters indexed by enum vj_record_kind
 *   scratch  one record-sized slot per CPU; the loader sets max_entries to the possible-CPU count
 *   wake_ctl whether the consumer sleeps idle (see below); the loader maps it
 */
#ifndef VAJRA_EMIT_BPF_H
#define VAJRA_EMIT_BPF_H

#ifndef VJ_SCRATCH_SIZE
#error "define VJ_SCRATCH_SIZE (the family's largest record) before including emit.bpf.h"
#endif

/* When the consumer wakes (daemon/pipeline.cpp). It sleeps in one of two ways:
 * - holding off after a drain that found records, so that records gather: it is woken only each time
 *   the pending data crosses a multiple of an eighth of the ring, so that a burst is drained early;
 * - idle, after a drain that found none: it sets wake_ctl[0], and the first record that finds it
 *   caught up (the kernel's default notification) wakes it at once.
 * Waking on every record instead would cost each a self-IPI (irq_work), a VM exit on virtual hardware. */
#define VJ_WAKEUP_DIVISOR 8

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* [0]: nonzero while the consumer sleeps idle. Mapped into user space, which sets it without a syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} wake_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VJ_REC_KIND_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct vj_scratch {
	__u8 bytes[VJ_SCRATCH_SIZE];
};

/* The BPF stack is 512 bytes and per-CPU array values are capped at 32 KiB, too small for an exec record
 * carrying argv, so records are built in a plain array slot chosen by CPU. That is safe because one CPU
 * never builds two records at once: the hooks using it run with preemption disabled and none fires in
 * interrupt context. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vj_scratch);
} scratch SEC(".maps");

static __always_inline void vj_count_drop(__u32 kind)
{
	__u64 *count = bpf_map_lookup_elem(&drops, &kind);

	if (count)
		*count += 1; /* per-CPU slot: no other writer */
}

/* This CPU's scratch slot, or NULL (counted as a drop of `kind`) if the loader sized the map wrongly. */
static __always_inline void *vj_scratch(__u32 kind)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *slot = bpf_map_lookup_elem(&scratch, &cpu);

	if (!slot)
		vj_count_drop(kind);
	return slot;
}

/* `adding` is the size of a record not yet in the ring (bpf_ringbuf_output), or 0 once it is reserved
 * (then `own` is its size, already counted as pending). */
static __always_inline __u64 vj_wakeup_flag(__u64 adding, __u64 own)
{
	__u64 after = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + adding;
	__u64 step = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / VJ_WAKEUP_DIVISOR;
	__u64 before = after > adding + own ? after - adding - own : 0;
	__u32 zero = 0;
	__u32 *idle = bpf_map_lookup_elem(&wake_ctl, &zero);

	if (step && before / step != after / step)
		return BPF_RB_FORCE_WAKEUP;
	/* 0: the kernel wakes the consumer if this record is the first it has not read. */
	return idle && *idle ? 0 : BPF_RB_NO_WAKEUP;
}

/* Copies the first `size` bytes of a record built in the scratch slot into the ring. */
static __always_inline void vj_output(void *record, __u64 size, __u32 kind)
{
	/* Checked again here so the verifier sees the copy cannot run past the slot. */
	barrier_var(size);
	if (size > VJ_SCRATCH_SIZE) {
		vj_count_drop(kind);
		return;
	}
	if (bpf_ringbuf_output(&events, record, size, vj_wakeup_flag(size, 0)))
		vj_count_drop(kind);
}

/* Reserves a fixed-size record directly in the ring, zeroed (ring memory is not, and padding must not
 * carry stale bytes). NULL, counted as a drop, when the ring is full. */
static __always_inline void *vj_reserve(__u64 size, __u32 kind)
{
	void *record = bpf_ringbuf_reserve(&events, size, 0);

	if (!record) {
		vj_count_drop(kind);
		return NULL;
	}
	__builtin_memset(record, 0, size);
	return record;
}

/* `record` must start with its vj_record_header, size filled in. */
static __always_inline void vj_submit(void *record)
{
	bpf_ringbuf_submit(record, vj_wakeup_flag(0, ((struct vj_record_header *)record)->size));
}

#endif /* VAJRA_EMIT_BPF_H */
