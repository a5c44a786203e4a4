# Sourced by scripts/_venv.sh (so by scripts/dev and scripts/test), and run by the Dockerfile: the
# GOV.UK Design System's assets for the web app. `npm ci` in web/frontend (govuk-frontend from the
# npm registry, the version in its package-lock.json) when node_modules is missing or older than
# the lock file, then its built assets (dist/govuk: JS, images) copied into web/static/govuk
# (gitignored), which the app serves at /assets, and its stylesheet compiled there from its Sass
# with the `sass` package (web/frontend/govuk.scss: Arial, not GDS Transport, which is licensed
# for GOV.UK only; no font files). No CDN: the browser loads them from the app. npm's output goes to web/frontend/npm.log and is shown only when it fails.
CME_FRONTEND=web/frontend
CME_FRONTEND_STAMP=$CME_FRONTEND/node_modules/.cme-installed
CME_GOVUK_ASSETS=web/static/govuk
if [ ! -f "$CME_FRONTEND_STAMP" ] || [ "$CME_FRONTEND/package-lock.json" -nt "$CME_FRONTEND_STAMP" ] \
    || [ ! -f "$CME_GOVUK_ASSETS/govuk-frontend.min.css" ]; then
    if ! command -v npm > /dev/null 2>&1; then
        # Debian's Node.js and npm, when this runs as root (CI, the project's machines).
        if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
            echo "installing Node.js and npm (apt-get) for the GOV.UK Frontend assets" >&2
            if ! { apt-get update && apt-get install -y --no-install-recommends nodejs npm; } \
                > "$CME_FRONTEND/apt.log" 2>&1; then
                cat "$CME_FRONTEND/apt.log" >&2
                echo "installing npm failed (log: $CME_FRONTEND/apt.log)" >&2
                exit 1
            fi
        else
            echo "the web app's GOV.UK assets need npm (Node.js): install it (apt-get install npm)" >&2
            exit 1
        fi
    fi
    echo "setting up the GOV.UK Frontend assets (npm ci in $CME_FRONTEND)" >&2
    if ! (cd "$CME_FRONTEND" && npm ci --no-audit --no-fund --loglevel=error) \
        > "$CME_FRONTEND/npm.log" 2>&1; then
        cat "$CME_FRONTEND/npm.log" >&2
        echo "npm ci in $CME_FRONTEND failed (log: $CME_FRONTEND/npm.log)" >&2
        exit 1
    fi
    CME_GOVUK_DIST=$CME_FRONTEND/node_modules/govuk-frontend/dist/govuk
    rm -rf "$CME_GOVUK_ASSETS.new"
    mkdir -p "$CME_GOVUK_ASSETS.new"
    cp "$CME_GOVUK_DIST/govuk-frontend.min.js" "$CME_GOVUK_ASSETS.new/"
    cp -R "$CME_GOVUK_DIST/assets/." "$CME_GOVUK_ASSETS.new/"
    # The stylesheet is compiled from GOV.UK Frontend's Sass (web/frontend/govuk.scss) rather than
    # copied: the precompiled one uses the GDS Transport typeface, licensed only for GOV.UK.
    rm -rf "$CME_GOVUK_ASSETS.new/fonts"
    if ! (cd "$CME_FRONTEND" && node_modules/.bin/sass --style=compressed --no-source-map \
        --quiet govuk.scss "../static/govuk.new/govuk-frontend.min.css") \
        >> "$CME_FRONTEND/npm.log" 2>&1; then
        cat "$CME_FRONTEND/npm.log" >&2
        echo "compiling GOV.UK Frontend's stylesheet failed (log: $CME_FRONTEND/npm.log)" >&2
        exit 1
    fi
    cp "$CME_FRONTEND/node_modules/govuk-frontend/package.json" "$CME_GOVUK_ASSETS.new/package.json"
    rm -rf "$CME_GOVUK_ASSETS"
    mv "$CME_GOVUK_ASSETS.new" "$CME_GOVUK_ASSETS"
    touch "$CME_FRONTEND_STAMP"
fi
