#!/bin/sh
# Remove what install.sh installed for the current user (same XDG_DATA_HOME, XDG_CONFIG_HOME and
# BIN_DIR), including sipscope's lines in mimeapps.list.
set -eu
DATA_HOME=${XDG_DATA_HOME:-"$HOME/.local/share"}
CONFIG_HOME=${XDG_CONFIG_HOME:-"$HOME/.config"}
BIN_DIR=${BIN_DIR:-"$HOME/.local/bin"}
if [ -L "$BIN_DIR/sipscope" ] && [ "$(readlink "$BIN_DIR/sipscope")" = "$DATA_HOME/sipscope/app/sipscope" ]; then
    rm -f "$BIN_DIR/sipscope"
fi
rm -rf "$DATA_HOME/sipscope/app"
rmdir "$DATA_HOME/sipscope" 2>/dev/null || true
rm -f "$DATA_HOME/applications/sipscope.desktop" \
      "$DATA_HOME/icons/hicolor/scalable/apps/sipscope.svg" \
      "$DATA_HOME/mime/packages/sipscope.xml"
for list in "$CONFIG_HOME/mimeapps.list" "$DATA_HOME/applications/mimeapps.list"; do
    # drop sipscope.desktop from every association line, then lines left without a value
    if [ -f "$list" ]; then
        sed -i -e 's/sipscope\.desktop;\{0,1\}//g' -e '/^[^=]*=$/d' "$list"
    fi
done
command -v update-mime-database >/dev/null && update-mime-database "$DATA_HOME/mime" || true
command -v update-desktop-database >/dev/null && \
    update-desktop-database "$DATA_HOME/applications" || true
echo "sipscope removed from $DATA_HOME"
