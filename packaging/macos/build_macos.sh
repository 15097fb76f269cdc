#!/usr/bin/env bash
# Build the macOS app: a fresh venv, the PyInstaller bundle (onedir, wrapped in a .app by
# the spec's BUNDLE step), the frozen --selftest, then a .dmg with hdiutil.
#   packaging/macos/build_macos.sh
# Apple silicon only: TensorFlow publishes no Intel-macOS wheels after 2.16.
# Untested here (written on Linux): see packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=packaging/build
rm -rf "$BUILD" packaging/dist
python3 -m venv "$BUILD/venv"
"$BUILD/venv/bin/pip" install -q --upgrade pip
"$BUILD/venv/bin/pip" install -q . "pyinstaller>=6.10,<7"
# an .icns from the PNG icon, for the .app
mkdir -p "$BUILD/icon.iconset"
for size in 16 32 64 128 256; do
  sips -z $size $size resources/icon.png --out "$BUILD/icon.iconset/icon_${size}x${size}.png" >/dev/null
done
iconutil -c icns "$BUILD/icon.iconset" -o "$BUILD/icon.icns"
start=$(date +%s)
DLE_MACOS_ICON="$BUILD/icon.icns" "$BUILD/venv/bin/pyinstaller" --noconfirm --log-level WARN \
  --distpath packaging/dist --workpath "$BUILD/work" packaging/explorer.spec
echo "build: $(( $(date +%s) - start )) s"
app="packaging/dist/Deep Learning Explorer.app"
"$BUILD/venv/bin/python" packaging/third_party_licences.py \
  "$app/Contents/Resources/THIRD-PARTY-LICENSES.txt"
"$app/Contents/MacOS/DeepLearningExplorer" --selftest
version=$("$BUILD/venv/bin/python" -c "import app; print(app.__version__)")
hdiutil create -volname "Deep Learning Explorer" -srcfolder "$app" -ov -format UDZO \
  "packaging/dist/DeepLearningExplorer-$version-macos.dmg"
du -sh "$app" packaging/dist/*.dmg
