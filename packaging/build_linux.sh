#!/usr/bin/env bash
# Build the Linux bundle from a clean environment, pack it, and prove it with --selftest.
#   packaging/build_linux.sh      ->  packaging/dist/DeepLearningExplorer-<version>-linux.tar.xz
#   BACKEND=jax packaging/build_linux.sh   the same on JAX, without TensorFlow
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=packaging/build
BACKEND=${BACKEND:-tensorflow}
rm -rf "$BUILD" packaging/dist build  # build/: setuptools keeps deleted modules there
python3 -m venv "$BUILD/venv"
"$BUILD/venv/bin/pip" install -q --upgrade pip
if [ "$BACKEND" = tensorflow ]; then
  "$BUILD/venv/bin/pip" install -q . "pyinstaller>=6.10,<7"
else  # the app's other packages, and that backend instead of TensorFlow
  "$BUILD/venv/bin/pip" install -q ".[$BACKEND]" "pyinstaller>=6.10,<7"
  "$BUILD/venv/bin/pip" uninstall -q -y tensorflow tensorboard tensorboard-data-server
fi
start=$(date +%s)
KERAS_BACKEND=$BACKEND "$BUILD/venv/bin/pyinstaller" --noconfirm --log-level WARN --distpath packaging/dist \
  --workpath "$BUILD/work" packaging/explorer.spec
app=packaging/dist/DeepLearningExplorer
cp packaging/deep-learning-explorer.desktop resources/icon.png "$app/"
"$BUILD/venv/bin/python" packaging/third_party_licences.py "$app/THIRD-PARTY-LICENSES.txt"
version=$("$BUILD/venv/bin/python" -c "import app; print(app.__version__)")
# xz, not gzip: 412-428 MB instead of 612 MB (TensorFlow's library alone is 1 GB unpacked)
XZ_OPT="-6 -T0" tar -C packaging/dist -cJf \
  "packaging/dist/DeepLearningExplorer-$version-linux.tar.xz" DeepLearningExplorer
echo "build: $(( $(date +%s) - start )) s"
echo "unpacked: $(du -sh "$app" | cut -f1)  compressed: $(du -sh packaging/dist/*.tar.xz | cut -f1)"
QT_QPA_PLATFORM=offscreen "$app/DeepLearningExplorer" --selftest
