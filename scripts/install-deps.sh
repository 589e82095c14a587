#!/usr/bin/env bash
# Installs every build, run and test dependency of Vajra from Debian 12. Does nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  libgrpc++-dev libabsl-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev libjemalloc-dev catch2 libssl-dev nlohmann-json3-dev
  libthrift-dev thrift-compiler libboost-dev python3-thrift python3-grpcio
  runc busybox-static iproute2 procps
  dnsmasq-base
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
