#!/usr/bin/env bash
# Mounts the pseudo-filesystems the probes need, where the host has not already done so.
set -euo pipefail
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
