#!/bin/sh
# What the browser tests need (test_chat_browser.py runs chat.mjs here):
# the Debian packages named on the command line (Chromium and a font, from
# the Makefile's BROWSER_PACKAGES), Node.js with npm, and playwright-core
# in tests/browser/node_modules at the version package-lock.json pins.
# Idempotent, like tests/deps.sh, which it uses for the packages.
#
# npm: a machine whose Node.js comes from NodeSource has npm inside its
# nodejs package, which conflicts with Debian's npm package (installing
# that would replace Node.js with Debian's older one), so Debian's nodejs
# and npm are installed only when there is no npm at all. playwright-core
# wants Node.js 20 or later; Debian 12's is 18.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/../deps.sh" "$@"
if ! command -v npm >/dev/null 2>&1; then
	sh "$here/../deps.sh" nodejs npm
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
	echo "tests/browser: npm ci (playwright-core)" >&2
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
