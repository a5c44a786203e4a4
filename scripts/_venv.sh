# Sourced by scripts/dev and scripts/test: create .venv and install the project with its dev extras
# when pyproject.toml is newer than the last install.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    .venv/bin/pip install --quiet -e '.[dev]'
    touch .venv/.installed
fi
