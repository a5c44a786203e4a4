# Sourced by scripts/test (after _venv.sh): what the browser tests need besides Python.
# - Debian's Chromium at /usr/bin/chromium (Playwright drives it; no browser is ever downloaded),
#   with fonts-liberation for the Arial-compatible fallback fonts pages are drawn in;
#   `apt-get install` as root or through `sudo -n` when it is missing.
# - axe-core from the npm registry, as pinned by tests/browser/package-lock.json: `npm ci` when
#   node_modules is missing or older than the lock.
# Each step is a no-op (two file tests) once done; its output goes to a log under .venv/ that is
# shown only when the step fails.

_browser_fail() {
    echo "$1" >&2
    exit 1
}

if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/liberation ]; then
    if [ "$(id -u)" = 0 ]; then
        _browser_sudo=()
    elif command -v sudo > /dev/null 2>&1 && sudo -n true > /dev/null 2>&1; then
        _browser_sudo=(sudo -n)
    else
        _browser_fail "the browser tests need Debian's Chromium: run 'sudo apt-get install -y chromium fonts-liberation', then this again"
    fi
    echo "installing Chromium with apt-get (first run: a minute or two)" >&2
    if ! {
        "${_browser_sudo[@]}" apt-get update &&
            "${_browser_sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends chromium fonts-liberation
    } > .venv/chromium-install.log 2>&1 || [ ! -x /usr/bin/chromium ]; then
        cat .venv/chromium-install.log >&2
        _browser_fail "installing Chromium failed (log: .venv/chromium-install.log)"
    fi
fi

if [ ! -f tests/browser/node_modules/.installed ] ||
    [ tests/browser/package-lock.json -nt tests/browser/node_modules/.installed ]; then
    command -v npm > /dev/null 2>&1 ||
        _browser_fail "the browser tests need Node.js and npm: run 'apt-get install -y nodejs npm', then this again"
    if ! (cd tests/browser && npm ci --no-audit --no-fund) > .venv/npm-install.log 2>&1; then
        cat .venv/npm-install.log >&2
        _browser_fail "installing tests/browser's npm packages failed (log: .venv/npm-install.log)"
    fi
    touch tests/browser/node_modules/.installed
fi
unset -f _browser_fail
