#!/usr/bin/env bash
# Fetches Debian's current cloud kernel (linux-image-<ver>-cloud-amd64, ~27 MB;
# never the 280 MB -dbg package) with apt and extracts its bzImage to
#   qemu_targets/build/linux/vmlinuz          the kernel
#   qemu_targets/build/linux/vmlinuz.version  package name and version
# The version is whatever the archive has today: the cloud-amd64 meta-package
# names it. Idempotent: does nothing when vmlinuz is already there
# (pass --force to fetch again).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${ISRDBG_LINUX_DIR:-$(dirname "$here")/build/linux}
me=fetch-kernel
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

[ "${1:-}" = --force ] && rm -f "$out/vmlinuz" "$out/vmlinuz.version"
if [ -s "$out/vmlinuz" ] && [ -s "$out/vmlinuz.version" ]; then
    exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
    || die "needs apt-get and dpkg-deb (a Debian-like system) to fetch the Linux kernel"

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# The versioned image package the meta-package depends on today (signed or,
# on archives without signed images, unsigned).
current_package() {
    local pkg
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\(-unsigned\)\?\)$/\1/p' | head -n1)
    if [ -z "$pkg" ]; then
        # No meta-package: the newest versioned image package by name.
        pkg=$(apt-cache pkgnames linux-image- 2>/dev/null \
            | grep -E '^linux-image-[0-9][^ ]*-cloud-amd64(-unsigned)?$' | sort -V | tail -n1 || true)
    fi
    printf '%s' "$pkg"
}

pkg=$(current_package)
if [ -z "$pkg" ]; then
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(current_package)
fi
[ -n "$pkg" ] || die "apt knows no linux-image-*-cloud-amd64 package (is a Debian archive in sources.list?)"

cache=$out/cache
mkdir -p "$cache"
# apt-get download writes into the current directory; as root it drops to the
# _apt user, which may not write here, so keep the directory writable for it.
chmod 0777 "$cache" 2>/dev/null || true
(cd "$cache" && rm -f ./*.deb && apt-get download -qq "$pkg" >/dev/null 2>"$cache/apt.log") \
    || die "apt-get download $pkg failed: $(tail -n1 "$cache/apt.log")"
deb=$(ls "$cache"/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"

tree=$cache/tree
rm -rf "$tree"
dpkg-deb -x "$deb" "$tree" || die "dpkg-deb could not extract $deb"
image=$(ls "$tree"/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$image" ] || die "$pkg has no boot/vmlinuz-*"
cp "$image" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
version=$(dpkg-deb -f "$deb" Version)
printf '%s %s %s\n' "$pkg" "$version" "$(basename "$image")" > "$out/vmlinuz.version"
# Only vmlinuz is kept: the rest of the package (modules) is not needed.
rm -rf "$tree" "$deb"
printf '%s: %s %s -> %s\n' "$me" "$pkg" "$version" "$out/vmlinuz" >&2
