#!/usr/bin/env bash
# Build Simili's macOS disk image from a clean checkout and self-test it (Apple silicon, macOS 14+):
#   dist/Simili-<version>-arm64.dmg    (drag Simili.app onto the Applications link)
#
# Steps: build venv with ".[gui]" + PyInstaller -> PyInstaller Simili.app (packaging/simili.spec, BUNDLE) ->
# self-test it -> optional Developer ID signing + notarisation -> .dmg (hdiutil) -> mount it read-only and
# self-test the app inside -> unmount.
#
# Environment (all optional):
#   PYTHON=/path/python                   build with this interpreter's environment as is (no venv)
#   MACOS_SIGN_IDENTITY="Developer ID Application: ..."   sign with the hardened runtime (else PyInstaller's ad-hoc
#                                                          signature: runs here, Gatekeeper blocks it elsewhere)
#   NOTARY_PROFILE=name                   notarise and staple (xcrun notarytool store-credentials name ...)
#   BUILD_DIR=build DIST_DIR=dist
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-$ROOT/build}
DIST=${DIST_DIR:-$ROOT/dist}
mkdir -p "$BUILD" "$DIST"
BUILD=$(cd "$BUILD" && pwd)
DIST=$(cd "$DIST" && pwd)
log() { printf '\n== %s\n' "$*"; }

if [ -z "${PYTHON:-}" ]; then
    log "build venv $BUILD/venv"
    python3.11 -m venv --clear "$BUILD/venv" 2>/dev/null || python3 -m venv --clear "$BUILD/venv"
    PYTHON=$BUILD/venv/bin/python
    "$PYTHON" -m pip install -q --upgrade pip
    # Not editable (-e): editable finders confuse freezing. macOS gets plain onnxruntime (CoreML), never -gpu.
    "$PYTHON" -m pip install -q -c constraints.txt ".[gui]" pyinstaller
fi
VERSION=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH=$(uname -m)

log "PyInstaller Simili.app"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$BUILD/bundle" --workpath "$BUILD/pyinstaller" packaging/simili.spec
APP=$BUILD/bundle/Simili.app
log "self-test of the app"
"$APP/Contents/MacOS/simili-cli" --self-test

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    log "codesign (hardened runtime)"
    # Inside-out: every Mach-O first, then the app. --deep is deprecated for signing.
    find "$APP/Contents" -type f \( -name "*.so" -o -name "*.dylib" -o -perm -u+x \) -print0 |
        xargs -0 -n 50 codesign --force --timestamp --options runtime --sign "$MACOS_SIGN_IDENTITY"
    codesign --force --timestamp --options runtime --entitlements packaging/macos/entitlements.plist \
        --sign "$MACOS_SIGN_IDENTITY" "$APP"
    codesign --verify --strict --verbose=2 "$APP"
fi

log "disk image"
STAGE=$BUILD/dmg
rm -rf "$STAGE" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG=$DIST/Simili-$VERSION-$ARCH.dmg
rm -f "$DMG"
hdiutil create -volname "Simili $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -imagekey zlib-level=9 -ov "$DMG"
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    log "notarise"
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
    spctl --assess --type open --context context:primary-signature -vv "$DMG"
fi

log "self-test of the app inside the mounted image"
MNT=$(mktemp -d)
hdiutil attach -nobrowse -readonly -mountpoint "$MNT" "$DMG" >/dev/null
trap 'hdiutil detach "$MNT" -quiet || true' EXIT
"$MNT/Simili.app/Contents/MacOS/simili-cli" --self-test
hdiutil detach "$MNT" -quiet
trap - EXIT
ls -l "$DMG"
