#!/bin/sh
# Install sipscope for the current user: the frozen app (when this script sits in the unpacked
# release archive, next to the sipscope/ folder) or a pip-installed `sipscope` on PATH; then its
# desktop entry, icon and MIME types, and make it the default application for pcap and pcapng.
# XDG folders are honoured: XDG_DATA_HOME (default ~/.local/share), XDG_CONFIG_HOME (mimeapps.list),
# and BIN_DIR (default ~/.local/bin) for the `sipscope` command.  Undo with uninstall.sh.
#   --no-default   register sipscope for pcap/pcapng ("Open with") without making it the default
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA_HOME=${XDG_DATA_HOME:-"$HOME/.local/share"}
BIN_DIR=${BIN_DIR:-"$HOME/.local/bin"}
MAKE_DEFAULT=1
[ "${1:-}" = "--no-default" ] && MAKE_DEFAULT=0

# Where the desktop files are: beside this script in the archive, or in a checkout.
if [ -f "$HERE/share/sipscope.desktop" ]; then SHARE="$HERE/share"
elif [ -f "$HERE/../../resources/sipscope.desktop" ]; then SHARE="$HERE/../../resources"
else echo "install.sh: sipscope.desktop not found next to this script" >&2; exit 1; fi
ICON="$SHARE/icons/sipscope.svg"

if [ -x "$HERE/sipscope/sipscope" ]; then
    APP_DIR="$DATA_HOME/sipscope/app"
    rm -rf "$APP_DIR"
    mkdir -p "$APP_DIR" "$BIN_DIR"
    cp -R "$HERE/sipscope/." "$APP_DIR/"
    ln -sf "$APP_DIR/sipscope" "$BIN_DIR/sipscope"
    EXEC="$APP_DIR/sipscope"
elif command -v sipscope >/dev/null 2>&1; then
    EXEC=$(command -v sipscope)
else
    echo "install.sh: no frozen app next to this script and no sipscope on PATH" >&2; exit 1
fi

mkdir -p "$DATA_HOME/applications" "$DATA_HOME/mime/packages" \
         "$DATA_HOME/icons/hicolor/scalable/apps"
# The desktop entry runs this very executable.  The Desktop Entry spec wants a path with spaces
# quoted, but xdg-open's generic mode (no desktop environment) cannot read quotes: quote only
# when the path needs it.
case "$EXEC" in
    *[[:space:]\"\'\\\$\`]*) EXEC_FIELD="\"$EXEC\"" ;;
    *) EXEC_FIELD="$EXEC" ;;
esac
sed -e "s|^Exec=.*|Exec=$EXEC_FIELD %F|" -e "s|^TryExec=.*|TryExec=$EXEC|" \
    "$SHARE/sipscope.desktop" > "$DATA_HOME/applications/sipscope.desktop"
cp "$ICON" "$DATA_HOME/icons/hicolor/scalable/apps/sipscope.svg"
cp "$SHARE/sipscope-mime.xml" "$DATA_HOME/mime/packages/sipscope.xml"
command -v update-mime-database >/dev/null && update-mime-database "$DATA_HOME/mime" || true
command -v update-desktop-database >/dev/null && \
    update-desktop-database "$DATA_HOME/applications" || true
command -v gtk-update-icon-cache >/dev/null && \
    gtk-update-icon-cache -q -t "$DATA_HOME/icons/hicolor" 2>/dev/null || true
if [ "$MAKE_DEFAULT" = 1 ] && command -v xdg-mime >/dev/null; then
    xdg-mime default sipscope.desktop application/vnd.tcpdump.pcap application/x-pcapng
fi
echo "sipscope installed: $EXEC (desktop files under $DATA_HOME)"
