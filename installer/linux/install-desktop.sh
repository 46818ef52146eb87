#!/bin/sh
# Install sipscope's desktop entry, icon and MIME types for the current user (or system-wide
# with PREFIX=/usr/local and root).  Needs xdg-utils; sipscope itself must be on PATH.
set -eu
HERE=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
install -Dm644 "$HERE/resources/sipscope.desktop" "$PREFIX/share/applications/sipscope.desktop"
install -Dm644 "$HERE/resources/icons/sipscope.svg" "$PREFIX/share/icons/hicolor/scalable/apps/sipscope.svg"
install -Dm644 "$HERE/resources/sipscope-mime.xml" "$PREFIX/share/mime/packages/sipscope.xml"
command -v update-mime-database >/dev/null && update-mime-database "$PREFIX/share/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$PREFIX/share/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$PREFIX/share/icons/hicolor" || true
echo "sipscope desktop integration installed under $PREFIX"
