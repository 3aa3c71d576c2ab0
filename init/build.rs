//! Link options for the static `init` binary. It never unwinds (panic = "abort", and musl
//! does not either), so the unwinding tables are dead weight against its 64 KiB budget: they
//! are discarded, and identical functions are folded into one.
use std::path::PathBuf;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    // Only for board binaries linked by rust-lld (see .cargo/config.toml), and not for test
    // builds, where panics unwind.
    if profile != "release" {
        return;
    }
    if target.starts_with("riscv64") || target.starts_with("armv7") {
        // Static glibc from Debian's cross toolchains, linked by their gcc with
        // -nodefaultlibs: glibc's own objects need libgcc's helpers and unwinder.
        println!("cargo:rustc-link-arg-bins=-Wl,--start-group");
        println!("cargo:rustc-link-arg-bins=-lc");
        println!("cargo:rustc-link-arg-bins=-lgcc");
        println!("cargo:rustc-link-arg-bins=-lgcc_eh");
        println!("cargo:rustc-link-arg-bins=-Wl,--end-group");
        return;
    }
    if !target.ends_with("-linux-musl") {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let script = out.join("discard-unwind-tables.ld");
    let text = "SECTIONS { /DISCARD/ : { *(.eh_frame) *(.eh_frame_hdr) } } INSERT AFTER .text;\n";
    if std::fs::write(&script, text).is_ok() {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    }
    println!("cargo:rustc-link-arg-bins=--no-eh-frame-hdr");
    println!("cargo:rustc-link-arg-bins=--icf=all");
    println!("cargo:rerun-if-changed=build.rs");
}
