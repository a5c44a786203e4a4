# Sourced by scripts/test: install the OpenID provider the tests start on loopback (tests/oidc:
# the oidc-provider package from the npm registry, at the versions of its package-lock.json) when
# tests/oidc/node_modules is missing or older than package.json or the lock. npm's output goes to
# tests/oidc/node_modules/.install.log and is shown only when the install fails.
OIDC_DIR=tests/oidc
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Node.js and npm (Debian's) for the OpenID Connect tests" >&2
        { apt-get update -q && apt-get install -y -q nodejs npm; } >/tmp/cme-apt-node.log 2>&1 \
            || { cat /tmp/cme-apt-node.log >&2; echo "installing Node.js failed" >&2; exit 1; }
    else
        echo "the OpenID Connect tests need Node.js (18 or later) and npm" >&2
        exit 1
    fi
fi
if [ ! -f "$OIDC_DIR/node_modules/.installed" ] \
    || [ "$OIDC_DIR/package-lock.json" -nt "$OIDC_DIR/node_modules/.installed" ] \
    || [ "$OIDC_DIR/package.json" -nt "$OIDC_DIR/node_modules/.installed" ]; then
    oidc_log=$(mktemp)
    if ! (cd "$OIDC_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$oidc_log" 2>&1; then
        cat "$oidc_log" >&2
        rm -f "$oidc_log"
        echo "installing the tests' OpenID provider (npm ci in $OIDC_DIR) failed" >&2
        exit 1
    fi
    mv "$oidc_log" "$OIDC_DIR/node_modules/.install.log"
    touch "$OIDC_DIR/node_modules/.installed"
fi
