#!/usr/bin/env bash
# Installs what only the benchmark needs (on top of scripts/install-deps.sh, which covers the build):
# auditd (the baseline), dnsmasq-base (the local DNS server of the DNS storm; the -base package has no
# service that would start by itself), matplotlib and PyYAML for the harness, valgrind for the
# instruction counts, perf for software-clock profiles. Does nothing when all are present.
set -euo pipefail

packages=(
  auditd dnsmasq-base
  python3-matplotlib python3-yaml
  valgrind linux-perf
  iproute2 procps
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "bench/install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# policy-rc.d keeps the packages' init scripts from starting auditd during the install: the harness
# starts and stops it itself, and a running auditd would pollute the "no sensor" condition.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=true
fi
trap '$own_policy && rm -f "$policy"' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
