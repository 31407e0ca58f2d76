#!/usr/bin/env bash
# Installs the system packages ShardTrain needs on Debian (idempotent: apt-get runs only when one is missing).
# The Swift toolchain itself is expected on PATH (swift.org toolchain, e.g. /opt/swift).
set -euo pipefail

packages=(libzmq3-dev libssl-dev libfast-float-dev libopenblas-dev zlib1g-dev python3 python3-venv iproute2)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (install the Swift 6 toolchain)" >&2; exit 1; }
