#!/usr/bin/env bash
# Print a directory holding LibreOffice's isiZulu, isiXhosa, Sesotho and Setswana translations
# (<dir>/<zu|xh|st|tn>/LC_MESSAGES/*.mo), the stand-in's source of Bantu-language phrases.
# Uses the installed packages when present; otherwise downloads the four Debian packages
# libreoffice-l10n-{zu,xh,st,tn} with apt-get (no installation, no dependencies) and extracts them into $1.
set -euo pipefail
dest=$1
installed=/usr/lib/libreoffice/program/resource
have() { for l in zu xh st tn; do ls "$1/$l/LC_MESSAGES/"*.mo >/dev/null 2>&1 || return 1; done; }
if have $installed; then echo $installed; exit 0; fi
extracted=$dest/usr/lib/libreoffice/program/resource
if ! have $extracted; then
  mkdir -p $dest/debs
  (cd $dest/debs && apt-get download libreoffice-l10n-zu libreoffice-l10n-xh libreoffice-l10n-st \
     libreoffice-l10n-tn >&2) || { echo "local/get_l10n.sh: apt-get download libreoffice-l10n-{zu,xh,st,tn} failed;" \
     "install the packages or extract them into $dest (see conf/standin.yaml)" >&2; exit 1; }
  for deb in $dest/debs/*.deb; do dpkg-deb -x $deb $dest; done
fi
echo $extracted
