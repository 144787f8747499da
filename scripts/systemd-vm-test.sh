#!/usr/bin/env bash
# The units under a real systemd as PID 1: boots a Debian 12 VM (QEMU, software emulation, no
# network), installs linkcore there exactly as README.md's "Running it as a service" block says
# (the block between <!-- install:begin --> and <!-- install:end -->, run literally), then checks
# what an operator would: a TLS handshake through socket activation under DynamicUser with no
# capabilities, reload (good and failing) with a peer connected, the watchdog, journal fields,
# stop and drain, a bad configuration (exit 78, the error in `systemctl status`, no restart loop,
# the socket unit usable again after reset-failed). One PASS/FAIL line per check, then
# "N passed, N failed"; exit status 1 when a check failed (2 when the VM could not run).
#
# Usage: scripts/systemd-vm-test.sh            (BIN_DIR=... to use binaries built elsewhere)
#
# Environment:
#   BIN_DIR       where linkcored, linkctl and the liblinkcore-policy-*.so are; default: the
#                 debug build (`swift build`), built when missing. Debug rather than release
#                 because scripts/test.sh has already built it (a release build is ~10 more
#                 minutes on two cores) and the checks are about systemd, not speed.
#   VM_CACHE      where the Debian image is cached (default /var/cache/linkcore-vm), keyed by a
#                 hash of the package list and the image recipe below, so reruns skip debootstrap.
#   VM_TIMEOUT    seconds the VM may run before it is killed (default 900).
#   KEEP_VM_FILES=1  keep the run directory (payload disk, serial log) for inspection.
#
# The VM has no network card (-nic none): the checks use 127.0.0.1 inside it. The binaries, the
# repository's files, the Swift runtime libraries and the in-VM script go in on a second disk
# (an ext4 image made with mkfs.ext4 -d, no loop mount); results come back on the same disk and
# are read with debugfs. The root image is opened with snapshot=on, so the cache stays pristine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${VM_CACHE:-/var/cache/linkcore-vm}"
vm_timeout="${VM_TIMEOUT:-900}"
mirror="http://deb.debian.org/debian"

# Packages inside the image. The runtime libraries are those `ldd` shows for the binaries
# (besides the Swift runtime, which is copied in from the toolchain).
packages=(systemd systemd-sysv dbus udev kmod e2fsprogs procps openssl ca-certificates
          linux-image-cloud-amd64 initramfs-tools
          libssl3 libsqlite3-0 libsystemd0 libprotobuf-c1 libstdc++6 libcurl4 libxml2 zlib1g)
host_packages=(debootstrap qemu-system-x86 e2fsprogs)

# Bump when the image recipe (make_image) changes, so that cached images are rebuilt.
recipe_version=1

log() { echo "vm-test: $*" >&2; }
die() { log "$*"; exit 2; }

ensure_host_packages() {
    local missing=()
    for p in "${host_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

image_key() {
    { printf '%s\n' "${packages[@]}"; echo "recipe $recipe_version"; } | sha256sum | cut -c1-16
}

# Builds $cache/<key>/{root.img,vmlinuz,initrd.img} from a debootstrap'd Debian 12.
make_image() {
    local dir="$1" rootfs="$1/rootfs"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    rootfs="$dir.tmp/rootfs"
    log "debootstrap bookworm into $rootfs (several minutes, once per package list)"
    timeout 1800 debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
        bookworm "$rootfs" "$mirror" >"$dir.tmp/debootstrap.log" 2>&1 ||
        { tail -20 "$dir.tmp/debootstrap.log" >&2; die "debootstrap failed (log: $dir.tmp/debootstrap.log)"; }

    echo linkcore-vm >"$rootfs/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 linkcore-vm\n::1 localhost\n' >"$rootfs/etc/hosts"
    printf '/dev/vda / ext4 defaults,noatime 0 1\n' >"$rootfs/etc/fstab"
    chroot "$rootfs" passwd -d root >/dev/null
    # The runner: mounts the payload disk, runs its run.sh, records everything there, powers off.
    cat >"$rootfs/usr/local/sbin/linkcore-vm-runner" <<'EOF'
#!/bin/bash
mkdir -p /payload
if mount /dev/vdb /payload; then
    bash /payload/run.sh >/payload/output.log 2>&1
    echo "runner: run.sh exited $?" >>/payload/output.log
    tail -n 60 /payload/output.log >/dev/console
    sync
    umount /payload || mount -o remount,ro /payload
else
    echo "runner: cannot mount the payload disk" >/dev/console
fi
systemctl poweroff
EOF
    chmod 755 "$rootfs/usr/local/sbin/linkcore-vm-runner"
    # Type=simple (not oneshot) so that boot finishes and `systemctl is-system-running --wait`
    # inside run.sh returns; DefaultDependencies=no keeps it out of shutdown ordering.
    cat >"$rootfs/etc/systemd/system/linkcore-vm-runner.service" <<'EOF'
[Unit]
Description=linkcore VM test runner
DefaultDependencies=no
Requires=sysinit.target
After=sysinit.target basic.target
[Service]
Type=simple
ExecStart=/usr/local/sbin/linkcore-vm-runner
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
    chroot "$rootfs" systemctl enable linkcore-vm-runner.service >/dev/null 2>&1
    # Nothing to wait for at boot in a VM without network.
    chroot "$rootfs" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
        fstrim.timer systemd-networkd-wait-online.service >/dev/null 2>&1 || true
    cp -L "$rootfs/vmlinuz" "$dir.tmp/vmlinuz"
    cp -L "$rootfs/initrd.img" "$dir.tmp/initrd.img"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb
    truncate -s 3G "$dir.tmp/root.img"
    mkfs.ext4 -q -F -L linkcore-root -d "$rootfs" "$dir.tmp/root.img"
    rm -rf "$rootfs"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

ensure_image() {
    local dir="$cache/$(image_key)"
    if [ -f "$dir/root.img" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ]; then
        log "cached image $dir"
    else
        mkdir -p "$cache"
        make_image "$dir"
        log "image ready in $dir"
    fi
    image_dir="$dir"
}

ensure_host_packages
ensure_image
[ "${1:-}" = "--image-only" ] && exit 0

# The binaries: BIN_DIR, or the debug build (built when missing).
products=(linkcored linkctl linkcore-matcher linkcore-adapter)
modules=(liblinkcore-policy-whitelist.so liblinkcore-policy-fees.so liblinkcore-policy-events.so)
bin_dir="${BIN_DIR:-}"
if [ -z "$bin_dir" ]; then
    bin_dir="$(cd "$here" && swift build --show-bin-path)"
    for product in "${products[@]}" linkcore-policy-whitelist linkcore-policy-fees linkcore-policy-events; do
        [ -e "$bin_dir/$product" ] || [ -e "$bin_dir/lib$product.so" ] || (cd "$here" && swift build --product "$product" >&2)
    done
fi
for f in "${products[@]}" "${modules[@]}"; do [ -e "$bin_dir/$f" ] || die "$bin_dir/$f is missing"; done

run_dir="$(mktemp -d /var/tmp/linkcore-vm-run.XXXXXX)"
cleanup() { [ "${KEEP_VM_FILES:-0}" = 1 ] && log "run files kept in $run_dir" || rm -rf "$run_dir"; }
trap cleanup EXIT
payload="$run_dir/payload"

# The payload disk: the repository's files as a checkout has them (README.md, units, configs), the
# binaries where README's install block expects them (.build/release/: it is run literally, so
# debug binaries stand in for release ones there), the Swift runtime, and the in-VM script.
mkdir -p "$payload/repo/.build/release" "$payload/runtime"
(cd "$here" && git ls-files -z -- README.md systemd etc | xargs -0 tar cf -) | tar xf - -C "$payload/repo"
for f in "${products[@]}" "${modules[@]}"; do cp "$bin_dir/$f" "$payload/repo/.build/release/"; done
# Libraries outside the system's directories (the Swift runtime) are copied to the same absolute
# paths; system libraries come from the image's Debian packages.
for f in "${products[@]}" "${modules[@]}"; do ldd "$bin_dir/$f"; done | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
    while read -r lib; do
        case "$lib" in /lib/*|/usr/lib/*) continue ;; esac
        mkdir -p "$payload/runtime$(dirname "$lib")"
        cp -L "$lib" "$payload/runtime$lib"
    done
cp "$here/scripts/systemd-vm-checks.sh" "$payload/run.sh"
size_mb=$(( $(du -sm "$payload" | cut -f1) * 2 + 256 ))
truncate -s "${size_mb}M" "$run_dir/payload.img"
mkfs.ext4 -q -F -L payload -d "$payload" "$run_dir/payload.img"

# Boot: software emulation (KVM hangs on this machine), no network card, serial console to a file.
log "booting the VM (TCG, timeout ${vm_timeout} s; serial console in $run_dir/serial.log)"
started=$(date +%s)
timeout "$vm_timeout" qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m 2048 -smp 2 \
    -display none -monitor none -serial "file:$run_dir/serial.log" -no-reboot -nic none \
    -kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0 panic=-1" \
    -drive "file=$image_dir/root.img,format=raw,if=virtio,snapshot=on" \
    -drive "file=$run_dir/payload.img,format=raw,if=virtio" || log "qemu exited with status $? (124: timeout)"
log "the VM ran for $(( $(date +%s) - started )) s"

results="$(debugfs -R "cat /results.txt" "$run_dir/payload.img" 2>/dev/null || true)"
for f in output.log journal.txt; do debugfs -R "cat /$f" "$run_dir/payload.img" >"$run_dir/$f" 2>/dev/null || true; done
if [ -z "$results" ]; then
    log "no results from the VM; the end of its serial console:"
    tail -n 40 "$run_dir/serial.log" >&2 || true
    KEEP_VM_FILES=1
    exit 2
fi
echo "$results"
passed=$(grep -c '^PASS' <<<"$results" || true)
failed=$(grep -c '^FAIL' <<<"$results" || true)
grep -q '^DONE' <<<"$results" || { echo "FAIL the checks did not run to the end (VM timeout?)"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    KEEP_VM_FILES=1
    log "the in-VM output is in $run_dir/output.log, the VM's journal in $run_dir/journal.txt"
    exit 1
fi
