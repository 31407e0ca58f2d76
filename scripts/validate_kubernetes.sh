#!/usr/bin/env bash
# Validates the Kubernetes manifests (cluster/kubernetes/*.yaml) against the Kubernetes API schemas with
# kubernetes-validate (strict: unknown fields are errors), for the oldest and newest Kubernetes versions we
# support, and proves the check can fail: a copy with a misspelt field and one with a wrong type must be refused.
#
# The validator (pinned) is installed from PyPI into .build/tools/ on first use. Exit 0: valid; 1: a manifest
# is invalid (or a broken copy was accepted); 3: the validator could not be installed here (no network).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.37.0
tools=.build/tools/kubernetes-validate-$version
if [[ ! -x $tools/bin/kubernetes-validate ]]; then
    rm -rf "$tools"
    if ! { python3 -m venv "$tools" && "$tools/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$version"; }; then
        echo "kubernetes-validate $version could not be installed (is PyPI reachable?)" >&2
        rm -rf "$tools"
        exit 3
    fi
fi
validate() { "$tools/bin/kubernetes-validate" --strict --quiet --no-warn "$@"; }

manifests=(cluster/kubernetes/*.yaml)
for kubernetes in 1.28.0 1.37.0; do
    validate --kubernetes-version "$kubernetes" "${manifests[@]}"
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sed 's/backoffLimit:/backofLimit:/' cluster/kubernetes/shardtrain.yaml >"$scratch/misspelt.yaml"
sed 's/completions: \([0-9]*\)/completions: "\1 pods"/' cluster/kubernetes/shardtrain.yaml >"$scratch/wrong-type.yaml"
for broken in "$scratch"/*.yaml; do
    if validate "$broken" >/dev/null 2>&1; then
        echo "kubernetes-validate accepted a broken manifest ($(basename "$broken")): the check proves nothing" >&2
        exit 1
    fi
done
echo "Kubernetes manifests valid for 1.28 and 1.37 (${manifests[*]}); broken copies refused"
