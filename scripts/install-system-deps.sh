#!/usr/bin/env bash
# Installs the Debian packages caselake needs, and uv itself. Idempotent: a package already present
# is skipped, so `make demo` / `make test` can call this on every run at little cost.
#   libreoffice-writer-nogui : writes legacy .doc in the synthetic council, reads .doc in the pipeline
#   fonts-dejavu-core        : the font every rendered page uses, so generated files are byte-identical
#   chromium                 : headless browser for the Panel UI tests (Playwright drives it)
#   tesseract-ocr, -eng, -osd: the OCR engine's English and orientation models (tesserocr reads them; offline)
#   fonts-liberation2, fonts-freefont-ttf, fonts-bwht, fonts-dkg-handwriting, fonts-femkeklaver,
#   fonts-humor-sans         : printed and handwriting faces of the hard-scan set (synth/scans.py); tuning
#                              and scoring use different ones
set -euo pipefail

PACKAGES=(
  libreoffice-writer-nogui fonts-dejavu-core chromium
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
  fonts-liberation2 fonts-freefont-ttf fonts-bwht fonts-dkg-handwriting fonts-femkeklaver fonts-humor-sans
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv"
  python3 -m pip install --quiet "uv>=0.9"
fi
