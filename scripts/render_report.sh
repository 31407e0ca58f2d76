#!/bin/sh
# Renders an HTML report (train --report, evaluate --report) in headless Chromium (Debian package `chromium`) to a
# PNG screenshot, so a person can look at it and a test can check that it renders. No network is used: the report
# is self-contained, and Chromium is started with networking features off.
#
# Usage: scripts/render_report.sh REPORT.html OUTPUT.png [WIDTH [HEIGHT]]     (default 1100 × 6000 CSS pixels)
# Exit status: 0 with a non-empty PNG written, 2 when Chromium is not installed, 1 on any other failure.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUTPUT.png [WIDTH [HEIGHT]]" >&2
    exit 1
fi
report=$1
output=$2
width=${3:-1100}
height=${4:-6000}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "$0: chromium is not installed (apt-get install -y chromium)" >&2
    exit 2
fi
[ -f "$report" ] || { echo "$0: no such file: $report" >&2; exit 1; }
case $report in /*) url="file://$report" ;; *) url="file://$(pwd)/$report" ;; esac
case $output in /*) target=$output ;; *) target="$(pwd)/$output" ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$target"
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions \
    --disable-background-networking --disable-sync --disable-dev-shm-usage --user-data-dir="$profile" \
    --window-size="$width,$height" --screenshot="$target" "$url" >/dev/null 2>&1 || true
if [ ! -s "$target" ]; then
    echo "$0: chromium wrote no screenshot of $report" >&2
    exit 1
fi
echo "$target"
