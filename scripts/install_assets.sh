#!/usr/bin/env bash
# Installs the admin portal's front-end assets from npm (package-lock.json pins every version) and copies the
# files the templates use into static/vendor/ (git-ignored). Idempotent: when static/vendor/ was built from
# the current package-lock.json it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=static/vendor
STAMP="$DEST/.package-lock.sha256"
WANT=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "assets: static/vendor is up to date"
    exit 0
fi

command -v npm >/dev/null || { echo "assets: npm is missing (apt-get install -y nodejs npm)" >&2; exit 1; }
# --ignore-scripts: none of these packages needs an install script, and none should run one.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

NM=node_modules
mkdir -p static
BUILD=$(mktemp -d "static/.vendor.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
mkdir -p "$BUILD"/{sb-admin-2/css,sb-admin-2/js,jquery,jquery-easing,bootstrap/js,chart.js,fontawesome-free/css,codemirror/mode/sql}
cp "$NM/startbootstrap-sb-admin-2/css/sb-admin-2.min.css" "$BUILD/sb-admin-2/css/"
cp "$NM/startbootstrap-sb-admin-2/js/sb-admin-2.min.js" "$BUILD/sb-admin-2/js/"
cp "$NM/jquery/dist/jquery.min.js" "$BUILD/jquery/"
cp "$NM/jquery.easing/jquery.easing.min.js" "$BUILD/jquery-easing/"
cp "$NM/bootstrap/dist/js/bootstrap.bundle.min.js" "$BUILD/bootstrap/js/"
cp "$NM/chart.js/dist/Chart.min.js" "$NM/chart.js/dist/Chart.min.css" "$BUILD/chart.js/"
# CodeMirror 5 for the function editor: plain script files, no bundler needed.
cp "$NM/codemirror/lib/codemirror.js" "$NM/codemirror/lib/codemirror.css" "$BUILD/codemirror/"
cp "$NM/codemirror/mode/sql/sql.js" "$BUILD/codemirror/mode/sql/"
cp "$NM/@fortawesome/fontawesome-free/css/all.min.css" "$BUILD/fontawesome-free/css/"
cp -r "$NM/@fortawesome/fontawesome-free/webfonts" "$BUILD/fontawesome-free/"
for license in startbootstrap-sb-admin-2/LICENSE bootstrap/LICENSE jquery/LICENSE.txt chart.js/LICENSE.md \
               @fortawesome/fontawesome-free/LICENSE.txt codemirror/LICENSE; do
    [[ -f "$NM/$license" ]] && cp "$NM/$license" "$BUILD/LICENSE-$(echo "${license%%/*}" | tr -d @)" || true
done
echo "$WANT" > "$BUILD/.package-lock.sha256"

# Swap in the new tree in one rename, so a running server or a parallel run never sees half a copy.
chmod 755 "$BUILD"
rm -rf "$DEST.old"
[[ -d "$DEST" ]] && mv "$DEST" "$DEST.old"
mv "$BUILD" "$DEST"
rm -rf "$DEST.old"
trap - EXIT
echo "assets: installed SB Admin 2 $(node -p "require('./$NM/startbootstrap-sb-admin-2/package.json').version") into $DEST"
