#!/usr/bin/env bash
# Build Simili's Linux installers from a clean checkout and self-test them:
#   dist/simili_<version>_amd64.deb          (always)
#   dist/Simili-<version>-x86_64.AppImage    (when appimagetool is on PATH, in $APPIMAGETOOL, or downloadable)
#
# Steps: build venv with ".[gui]" + PyInstaller -> PyInstaller onedir (packaging/simili.spec) -> self-test it ->
# .deb (dpkg-deb, no root needed) and AppDir/AppImage -> unpack the .deb and self-test the unpacked copy.
#
# Environment (all optional):
#   PYTHON=/path/python     build with this interpreter's environment as is (no venv, never modified; it needs
#                           pyinstaller; the flavour is then the ONNX Runtime it has)
#   SIMILI_FLAVOR=cpu|gpu   onnxruntime (default, small) or onnxruntime-gpu (CUDA 13 + cuDNN 9, +265 MB)
#   DEB_COMPRESSION=xz      xz (release, ~150 s here), zstd, gzip or none (tests)
#   FORMATS="deb appimage"  which installers to make ("" = only the self-tested onedir bundle)
#   BUILD_DIR=build DIST_DIR=dist
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-$ROOT/build}
DIST=${DIST_DIR:-$ROOT/dist}
FLAVOR=${SIMILI_FLAVOR:-cpu}
DEB_COMPRESSION=${DEB_COMPRESSION:-xz}
FORMATS=${FORMATS-deb appimage}  # empty: the onedir bundle only
APP_ID=org.simili.Simili
mkdir -p "$BUILD" "$DIST"
BUILD=$(cd "$BUILD" && pwd)
DIST=$(cd "$DIST" && pwd)
t0=$(date +%s)
log() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

# 1. Build environment -------------------------------------------------------------------------------------------
OWN_VENV=
if [ -z "${PYTHON:-}" ]; then
    log "build venv $BUILD/venv"
    python3 -m venv --clear "$BUILD/venv"
    PYTHON=$BUILD/venv/bin/python
    OWN_VENV=1
    "$PYTHON" -m pip install -q --upgrade pip
    # Not editable (-e): editable finders confuse freezing. constraints.txt pins what the tests run against.
    "$PYTHON" -m pip install -q -c constraints.txt ".[gui]" pyinstaller
fi
if [ -z "${OWN_VENV:-}" ]; then
    # Someone else's environment (PYTHON=...): never change it; the flavour is whatever ONNX Runtime it has.
    FLAVOR=$("$PYTHON" -m pip show -q onnxruntime-gpu >/dev/null 2>&1 && echo gpu || echo cpu)
elif [ "$FLAVOR" = cpu ] && "$PYTHON" -m pip show -q onnxruntime-gpu 2>/dev/null; then
    ORT_VERSION=$("$PYTHON" -m pip show onnxruntime-gpu | sed -n 's/^Version: //p')
    log "CPU flavour: onnxruntime-gpu -> onnxruntime $ORT_VERSION"
    "$PYTHON" -m pip uninstall -q -y onnxruntime-gpu && "$PYTHON" -m pip install -q "onnxruntime==$ORT_VERSION"
elif [ "$FLAVOR" = gpu ] && ! "$PYTHON" -m pip show -q onnxruntime-gpu 2>/dev/null; then
    log "GPU flavour: onnxruntime -> onnxruntime-gpu"
    "$PYTHON" -m pip uninstall -q -y onnxruntime && "$PYTHON" -m pip install -q onnxruntime-gpu
fi
VERSION=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
SUFFIX=$([ "$FLAVOR" = gpu ] && echo "-gpu" || true)

# 2. Freeze ------------------------------------------------------------------------------------------------------
log "PyInstaller onedir"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$BUILD/bundle" --workpath "$BUILD/pyinstaller" packaging/simili.spec
BUNDLE=$BUILD/bundle/simili
log "self-test of the bundle"
"$BUNDLE/simili" --self-test

# 3. Shared desktop files ----------------------------------------------------------------------------------------
install_desktop_files() {  # $1 = prefix (usr)
    local usr=$1
    install -Dm644 packaging/linux/$APP_ID.desktop "$usr/share/applications/$APP_ID.desktop"
    install -Dm644 packaging/linux/$APP_ID.metainfo.xml "$usr/share/metainfo/$APP_ID.metainfo.xml"
    for png in resources/icons/png/simili-*.png; do
        [ -e "$png" ] || continue
        size=$(basename "$png" .png); size=${size#simili-}
        install -Dm644 "$png" "$usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
    done
    [ -e resources/icons/simili.svg ] && install -Dm644 resources/icons/simili.svg "$usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
    return 0
}

# 4. .deb --------------------------------------------------------------------------------------------------------
if [[ " $FORMATS " == *" deb "* ]]; then
    log ".deb ($DEB_COMPRESSION)"
    PKG=$BUILD/deb/simili
    rm -rf "$BUILD/deb" && mkdir -p "$PKG/opt" "$PKG/usr/bin" "$PKG/DEBIAN"
    cp -a "$BUNDLE" "$PKG/opt/simili"
    ln -s /opt/simili/simili "$PKG/usr/bin/simili"
    install_desktop_files "$PKG/usr"
    install -Dm644 packaging/linux/copyright "$PKG/usr/share/doc/simili/copyright"
    # Qt's xcb platform plugin needs these on the desktop (pitfall 1 in shared research); t64 names for Debian 13+.
    sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$(du -sk "$PKG" | cut -f1)/" -e "s/@SUFFIX@/$SUFFIX/" \
        packaging/linux/control.in > "$PKG/DEBIAN/control"
    find "$PKG" -type d -exec chmod 755 {} +
    DEB=$DIST/simili${SUFFIX}_${VERSION}_amd64.deb
    dpkg-deb --root-owner-group -Z"$DEB_COMPRESSION" --build "$PKG" "$DEB"
    log "self-test of the unpacked .deb"
    rm -rf "$BUILD/deb-check" && dpkg-deb -x "$DEB" "$BUILD/deb-check"
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$(mktemp -d)" QT_QPA_PLATFORM=offscreen \
        "$BUILD/deb-check/opt/simili/simili" --self-test
    rm -rf "$BUILD/deb-check"
    ls -l "$DEB"
fi

# 5. AppImage ----------------------------------------------------------------------------------------------------
if [[ " $FORMATS " == *" appimage "* ]]; then
    log "AppDir"
    APPDIR=$BUILD/Simili.AppDir
    rm -rf "$APPDIR" && mkdir -p "$APPDIR/usr/lib"
    cp -a "$BUNDLE" "$APPDIR/usr/lib/simili"
    install_desktop_files "$APPDIR/usr"
    cp packaging/linux/$APP_ID.desktop "$APPDIR/"
    cp resources/icons/png/simili-256.png "$APPDIR/$APP_ID.png" && cp "$APPDIR/$APP_ID.png" "$APPDIR/.DirIcon"
    ln -s usr/lib/simili/simili "$APPDIR/AppRun"
    "$APPDIR/AppRun" --self-test >/dev/null
    TOOL=${APPIMAGETOOL:-$(command -v appimagetool || true)}
    if [ -z "$TOOL" ]; then
        TOOL=$BUILD/appimagetool-x86_64.AppImage
        curl -fsSL --max-time 120 -o "$TOOL" \
            https://github.com/AppImage/appimagetool/releases/download/continuous/appimagetool-x86_64.AppImage \
            && chmod +x "$TOOL" || { rm -f "$TOOL"; TOOL=; }
    fi
    if [ -n "$TOOL" ]; then
        log "AppImage"
        IMG=$DIST/Simili${SUFFIX}-$VERSION-x86_64.AppImage
        # --appimage-extract-and-run: no FUSE needed on CI runners and in containers.
        ARCH=x86_64 "$TOOL" --appimage-extract-and-run --no-appstream "$APPDIR" "$IMG"
        APPIMAGE_EXTRACT_AND_RUN=1 "$IMG" --self-test
        ls -l "$IMG"
    else
        echo "appimagetool is not available (set APPIMAGETOOL=...); the AppDir $APPDIR was built and self-tested"
    fi
fi
log "done: $(ls "$DIST" | tr '\n' ' ')"
