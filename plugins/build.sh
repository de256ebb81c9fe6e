#!/usr/bin/env bash
# Builds every first-party plugin as a Wasm component (wasm32-wasip2, the
# `plugin` profile) and copies it to target/plugins/<name>.wasm, where the
# host and the tests look for it. Prints each component's size.
#
# Usage: plugins/build.sh [name ...]   (default: every plugins/*/ with a Cargo.toml)
#
# Each plugin is built by its own cargo invocation on purpose: building them
# together would unify the vitrine-sdk features of all of them, and a
# promotion component would then carry the types of other worlds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/plugins"
mkdir -p "$out"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for manifest in plugins/*/Cargo.toml; do
        names+=("$(basename "$(dirname "$manifest")")")
    done
fi

for name in "${names[@]}"; do
    package="vitrine-plugin-$name"
    cargo build --profile plugin --target wasm32-wasip2 -p "$package"
    artifact="$target_dir/wasm32-wasip2/plugin/vitrine_plugin_${name//-/_}.wasm"
    cp "$artifact" "$out/$name.wasm"
done

printf '%-16s %10s\n' plugin bytes
for name in "${names[@]}"; do
    printf '%-16s %10s\n' "$name" "$(wc -c < "$out/$name.wasm")"
done
