# Sourced by the test and demo scripts: makes sure the peer tools and Rust targets exist.
# Installs what is missing when running as root; otherwise prints the one command to run.

# command (or a file, by its absolute path) → Debian package providing it
NANOLIN_PEERS=(
  "signify-openbsd:signify-openbsd"
  "minisign:minisign"
  "qemu-aarch64-static:qemu-user-static"
  "setsid:util-linux"
  "script:bsdutils"
  "fw_printenv:u-boot-tools"
  "grub-editenv:grub-common"
  "/usr/bin/time:time"
  "file:file"
  "riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu"
  "arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf"
  "/usr/riscv64-linux-gnu/lib/libc.a:libc6-dev-riscv64-cross"
  "/usr/arm-linux-gnueabihf/lib/libc.a:libc6-dev-armhf-cross"
  "aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
  "/usr/sbin/nginx:nginx"
  "openssl:openssl"
  "bwrap:bubblewrap"
  "mksquashfs:squashfs-tools"
  "unsquashfs:squashfs-tools"
  "/sbin/sgdisk:gdisk"
  "bmaptool:bmap-tools"
  "/sbin/mkfs.fat:dosfstools"
  "/sbin/fsck.fat:dosfstools"
  "mcopy:mtools"
  "/sbin/mke2fs:e2fsprogs"
  "/sbin/e2fsck:e2fsprogs"
  "/sbin/debugfs:e2fsprogs"
  "mkimage:u-boot-tools"
  "grub-mkimage:grub-common"
  "/usr/lib/grub/x86_64-efi/moddep.lst:grub-efi-amd64-bin"
  "/usr/lib/u-boot/qemu_arm64/u-boot.bin:u-boot-qemu"
  "/usr/share/ovmf/OVMF.fd:ovmf"
  "qemu-system-aarch64:qemu-system-arm"
  "qemu-system-x86_64:qemu-system-x86"
  "qemu-system-riscv64:qemu-system-misc"
  "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin:opensbi"
  "/usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring"
  "xorriso:xorriso"
  "cpio:cpio"
  "/sbin/depmod:kmod"
)

# command → PyPI package providing it (installed with pip, pinned)
NANOLIN_PIP_PEERS=(
  "pyspdxtools:spdx-tools==0.8.5"
)

# pip install, also on a Python that Debian manages (which wants --break-system-packages).
nanolin_pip_install() {
  python3 -m pip install -q --disable-pip-version-check "$@" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}

NANOLIN_TARGETS=(
  aarch64-unknown-linux-musl
  x86_64-unknown-linux-musl
  thumbv7em-none-eabihf
  riscv64gc-unknown-none-elf
  riscv64gc-unknown-linux-gnu
  armv7-unknown-linux-gnueabihf
)

ensure_peers() {
  local missing=() entry cmd pkg
  for entry in "${NANOLIN_PEERS[@]}"; do
    cmd=${entry%%:*}
    pkg=${entry#*:}
    # A path names a file the package installs; anything else is a command.
    if [[ $cmd == /* ]]; then
      [ -e "$cmd" ] || missing+=("$pkg")
    elif ! command -v "$cmd" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "== installing peer tools: ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "nanolin: the tests need: ${missing[*]}. Run this, then try again:" >&2
      echo "  sudo apt-get install -y ${missing[*]}" >&2
      exit 2
    fi
  fi
  local pip_missing=()
  for entry in "${NANOLIN_PIP_PEERS[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || pip_missing+=("${entry#*:}")
  done
  if [ ${#pip_missing[@]} -gt 0 ]; then
    echo "== installing peer tools from PyPI: ${pip_missing[*]}"
    if ! nanolin_pip_install "${pip_missing[@]}" >/dev/null; then
      echo "nanolin: the tests need: ${pip_missing[*]}. Run this, then try again:" >&2
      echo "  python3 -m pip install ${pip_missing[*]}" >&2
      exit 2
    fi
  fi
}

ensure_targets() {
  local installed missing=() t
  if ! command -v rustup >/dev/null 2>&1; then
    echo "nanolin: rustup is needed to add the board targets (${NANOLIN_TARGETS[*]})" >&2
    exit 2
  fi
  installed=$(rustup target list --installed)
  for t in "${NANOLIN_TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== adding Rust targets: ${missing[*]}"
    rustup target add "${missing[@]}"
  fi
}
