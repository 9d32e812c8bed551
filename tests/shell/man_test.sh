#!/usr/bin/env bash
# Renders the man pages with groff as man(1) does, with every warning on, and fails on any
# warning; then checks that the EXAMPLE config in procsup.toml(5) passes check-config, so
# the page cannot drift from what the loader accepts.
# Usage: man_test.sh MAN_DIR PROCSUP_BINARY
set -uo pipefail
man_dir=$1
procsup=$2
failures=0

for page in "$man_dir/procsup.1" "$man_dir/procsup.toml.5"; do
    warnings=$(groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null)
    if [[ -n $warnings ]]; then
        echo "FAIL: $page renders with warnings:"
        echo "$warnings"
        failures=$((failures + 1))
    else
        echo "ok: $page renders without warnings"
    fi
done

# The rendered example: the lines between EXAMPLE and SEE ALSO, without the indent.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
groff -man -Tutf8 -P-cbou "$man_dir/procsup.toml.5" 2>/dev/null |
    sed -n '/^EXAMPLE$/,/^SEE ALSO$/p' | sed -n 's/^           //p' > "$dir/procsup.toml"
mkdir "$dir/conf.d"  # The example includes conf.d/*.toml.
if ! grep -q '^\[services\.' "$dir/procsup.toml"; then
    echo "FAIL: no example config found in procsup.toml(5)"
    failures=$((failures + 1))
elif out=$("$procsup" check-config -c "$dir/procsup.toml" 2>&1); then
    echo "ok: the example of procsup.toml(5) passes check-config: $out"
else
    echo "FAIL: the example of procsup.toml(5) does not pass check-config:"
    echo "$out"
    failures=$((failures + 1))
fi

exit $((failures > 0))
