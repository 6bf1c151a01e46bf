#!/usr/bin/env bash
# Installs everything Floe needs to build and test on Debian 12, as root.
# Idempotent: does nothing (and touches no network) when all is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev llvm-14
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
  python3 python3-venv
  libcurl4-openssl-dev libssl-dev libsqlite3-dev liburing-dev
  libasio-dev libtomlplusplus-dev libre2-dev
  kcat
  libnfs-dev nfs-ganesha nfs-ganesha-vfs rpcbind
  openjdk-17-jdk-headless maven
  fio
)
# Node.js and npm for the KafkaJS tests: Debian's, unless a node and npm are
# already on PATH (another distribution's nodejs conflicts with Debian's npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

# Python packages for tests (S3-compatible server, clients) and benchmarks
# (matplotlib for bench/side_by_side's plots) in a project venv.
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.deps/venv"
requirements="$repo/scripts/requirements-test.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: creating $venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi

# Kafka clients and Apache Kafka itself for tests/compat (Maven Central jars,
# KafkaJS from npm), into .deps/.
bash "$repo/scripts/install-clients.sh"
