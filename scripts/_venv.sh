# Sourced by scripts/dev and scripts/test: create .venv and install the project with its dev extras
# when pyproject.toml is newer than the last install. pip's output goes to .venv/install.log and is
# shown only when the install fails.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setting up .venv (first run: a minute or two)" >&2
    "$PY" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    if ! { .venv/bin/pip install --upgrade pip && .venv/bin/pip install -e '.[dev]'; } \
        > .venv/install.log 2>&1; then
        cat .venv/install.log >&2
        echo "installing the project failed (log: .venv/install.log)" >&2
        exit 1
    fi
    touch .venv/.installed
fi
# The web app's GOV.UK Design System assets (npm).
source scripts/_frontend.sh
