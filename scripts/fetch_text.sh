#!/usr/bin/env bash
# Default evaluation text: Jane Austen's novels from Debian's r-cran-janeaustenr (downloaded with
# apt-get download and unpacked, so R is never installed), extracted to cache/text/austen.txt.  Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${SPARSWEEP_CACHE:-$here/cache}/text"
out="$dest/austen.txt"
[ -s "$out" ] && { echo "text: $out"; exit 0; }
mkdir -p "$dest"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp"
(cd "$tmp" && apt-get download -qq r-cran-janeaustenr 2>/dev/null || (apt-get update -qq && apt-get download -qq r-cran-janeaustenr))
dpkg-deb -x "$tmp"/r-cran-janeaustenr_*.deb "$tmp/x"
python3 "$here/scripts/extract_austen.py" "$tmp/x/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb" "$out.tmp"
mv "$out.tmp" "$out"
echo "text: $out"
