#!/usr/bin/env bash
# Installs the Debian packages callwatch's tests and local tooling need:
#   prometheus               -> promtool (checks and unit-tests deploy/prometheus)
#   prometheus-alertmanager  -> amtool   (checks deploy/alertmanager/alertmanager.yml)
#   chromium, chromium-driver -> the headless browser tests of the call page (issue 19),
#                               and `callwatch report` to PDF (--print-to-pdf)
#   poppler-utils            -> pdftoppm (the report test turns the PDF into PNG pages)
# Idempotent: installs only what is missing. As root it runs apt-get; otherwise
# it prints the exact command to run and exits non-zero, because the tests that
# need these tools fail (they never skip) until they are installed.
set -euo pipefail

packages=(prometheus prometheus-alertmanager chromium chromium-driver poppler-utils)

missing=()
for pkg in "${packages[@]}"; do
    # `dpkg-query -W` alone also succeeds for removed-but-not-purged packages.
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != "installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-debian-packages: already installed: ${packages[*]}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-debian-packages: apt-get not found; install these with your package manager: ${missing[*]}" >&2
    exit 1
fi

# --no-install-recommends: we want the command-line tools, not extra exporters.
command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-debian-packages: missing ${missing[*]}; as root, run:" >&2
    echo "  sudo sh -c '$command'" >&2
    exit 1
fi

echo "install-debian-packages: installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

# The packages ship services; inside containers and CI policy-rc.d usually
# stops them starting, and callwatch never needs them running: only the tools.
for tool in promtool amtool chromium pdftoppm; do
    command -v "$tool" >/dev/null || { echo "install-debian-packages: $tool still missing" >&2; exit 1; }
done
echo "install-debian-packages: ok ($(promtool --version 2>&1 | head -n1))"
