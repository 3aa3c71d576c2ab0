//! `nanolin release build`: everything a board needs, from a distro: what is flashed onto a
//! new board and what a board in the field updates to.
//!
//! Steps, each shown as it runs:
//!
//! 1. **Root file system**: the distro built for the board (`nanolin distro build`), refused
//!    when it is larger than the board's root partitions.
//! 2. **Kernel**: the board's Debian kernel through apt (its package, version and `.deb`
//!    SHA-256 recorded in the `.release` file), unpacked, and the closure of the modules
//!    the initramfs loads: the board's `modules=` and the file systems ([`FS_MODULES`]).
//! 3. **Initramfs**: `/init` is the root's own `init`, with the modules under
//!    `/lib/modules/RELEASE/` and their load order in [`MODULE_ORDER`].
//! 4. **Boot files**: the boot partition's files and the first boot state (slot A first,
//!    with the distro's tries) for the board's bootloader ([`crate::bootfs`]); for U-Boot
//!    boards the environment starts from the board's U-Boot build's default environment, and
//!    what the SoC's ROM or firmware loads first comes from Debian's packages as the board file
//!    says ([`crate::board::Loader`]): files onto the boot partition, files written raw before
//!    the first partition (and mapped), the firmware and its `config.txt`; the U-Boot and
//!    firmware packages are pinned in the `.release` file like the kernel.
//! 5. **Disk image**: the board's GPT layout with the boot partition (vfat, or raw for the
//!    native record), root A holding the root file system, root B empty, and an empty ext4
//!    data partition; a raw boot state outside the partitions is written in place. Its
//!    `.bmap` maps every block a flash must write.
//! 6. **Update bundle** (`.nlb`) of the root file system, signed.
//! 7. **ISO** for EFI boards with GRUB: the boot partition as its EFI boot image, with the
//!    root file system and the bundle in its file tree, GRUB's live menu (live system, or
//!    install onto the first disk) and the installer's ranges of the disk image
//!    ([`crate::disk::ranges`]); its tree is [`nanolin_core::medium`]'s.
//!
//! Outputs are made in a staging folder beside the output folder and moved into place only
//! when all exist: a failed release leaves nothing half-written. With `--publish` they are
//! added to the repository and the board's channel points at the bundle. At the end a table
//! lists what was written and how to flash and boot it.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use nanolin_core::bundle::{DEFAULT_CHUNK_SIZE, DEFAULT_HASHES_PER_BLOCK};
use nanolin_core::medium;
use nanolin_core::version::ReleaseVersion;

use crate::board::{Arch, Board, BootPartitionType, Bootloader, Role, StateLocation};
use crate::bootfs::{
    boot_files, grub_live_cfg, uboot_default_env, BootFiles, BootInputs, GRUB_KERNEL_FILE,
    INITRAMFS_FILE,
};
use crate::bundling::{create, BundleSpec, ImageSource};
use crate::cli::{ReleaseBuildArgs, ReleaseCommand};
use crate::cmd::distro::{build_distro, target_board};
use crate::cmd::repo::{add_artifacts, lifetime};
use crate::cmd::{open_secret_key, step};
use crate::disk::{
    attribute, make_ext4, make_vfat, part_type, write_bmap, write_image, Content, Ext4Spec, Gpt,
    Guid, Mapping, Partition, VfatSpec,
};
use crate::disk::{write_install_ranges, BlockMap, Placed};
use crate::distro::Distro;
use crate::error::{Error, Status};
use crate::fetch::SourceCache;
use crate::initramfs::{write_initramfs, Compression, InitramfsSpec};
use crate::iso::{make_iso, IsoSpec, EFI_IMAGE_PATH};
use crate::kernel::{fetch_deb_from, fetch_kernel, CachedDeb, Kernel, KernelFiles};
use crate::keyfile::SigningKey;
use crate::repo::channel::check_channel_name;
use crate::repo::{sha256_file, Repository, Signer};
use crate::signing::{signing_time, verify_with_comment};

/// Modules every initramfs loads besides the board's: the root file system (squashfs), the
/// overlay that makes it writable, the data partition (ext4), the boot partition (vfat, and
/// the character sets it mounts with by default: code page 437 and ASCII, which the kernel
/// would otherwise ask modprobe for, and the initramfs has none).
pub const FS_MODULES: [&str; 6] = [
    "squashfs",
    "overlay",
    "ext4",
    "vfat",
    "nls_cp437",
    "nls_ascii",
];

/// The file in the initramfs listing the modules to load, in order, one path relative to
/// `/lib/modules/RELEASE/` a line.
pub const MODULE_ORDER: &str = "etc/nanolin/modules";

/// Size of the data partition's ext4 file system in the disk image: stage1 grows it to the
/// whole partition at the first boot (EXT4_IOC_RESIZE_FS, online), so a flash writes 32 MiB
/// of it rather than the partition. mke2fs reserves descriptor room for a growth of 1024
/// times; beyond 32 GiB the kernel converts the file system to meta_bg as it grows it.
const DATA_IMAGE_MAX: u64 = 32 << 20;

/// Where the root file system keeps stage1 (package nanolin-init), the initramfs' `/init`:
/// it picks the slot (on `native` boards), mounts the root and hands over to `/sbin/init`.
const STAGE1_PATH: &str = "usr/lib/nanolin/stage1";
/// Where each slot's root file system carries the kernel it boots (the raw `Image` on arm64
/// and riscv64, as QEMU's `-kernel` and kexec take it; `bzImage` on x86_64, `zImage` on armv7).
pub const SLOT_KERNEL: &str = "boot/vmlinuz";
/// Where each slot's root file system carries its initramfs (the same bytes as `….initrd`).
pub const SLOT_INITRAMFS: &str = "boot/initrd.img";

/// The file in the initramfs telling stage1 the board's devices and boot state.
pub const BOOT_CONF: &str = "etc/nanolin/boot.conf";

/// Runs `nanolin release …`.
pub fn run(command: ReleaseCommand) -> Result<Status, Error> {
    match command {
        ReleaseCommand::Build(args) => {
            build(args)?;
            Ok(Status::Success)
        }
        ReleaseCommand::Run(args) => crate::cmd::release_run::run(args),
    }
}

/// One file of a release: where it is and what it is.
#[derive(Debug, Clone)]
pub struct ReleaseFile {
    /// The file.
    pub path: PathBuf,
    /// What it is, for the summary.
    pub what: &'static str,
}

/// What a release build wrote.
#[derive(Debug, Clone)]
pub struct BuiltRelease {
    /// The release version.
    pub version: ReleaseVersion,
    /// Every file written, in the output folder.
    pub files: Vec<ReleaseFile>,
}

/// The distro file `name` means: a path as given, or `distros/NAME.rcp`.
fn distro_path(name: &str) -> Result<PathBuf, Error> {
    let given = PathBuf::from(name);
    if given.is_file() {
        return Ok(given);
    }
    let named = Path::new("distros").join(format!("{name}.rcp"));
    if !name.contains('/') && named.is_file() {
        return Ok(named);
    }
    Err(Error::Usage(format!(
        "no distro {name}: give a distro file (distros/prime.rcp) or the name of one in \
         distros/ (prime)"
    )))
}

/// `nanolin release build`.
pub fn build(args: ReleaseBuildArgs) -> Result<BuiltRelease, Error> {
    let distro = Distro::load(&distro_path(&args.distro)?)?;
    let board = target_board(&args.target, &distro)?;
    let channel = args
        .channel
        .clone()
        .unwrap_or_else(|| distro.channel.clone());
    let lifetime = lifetime(&args.lifetime)?;
    // A repository that would refuse the release is found out before anything is built.
    let repo = match &args.publish {
        Some(dir) => {
            check_channel_name(&channel)?;
            Some(Repository::open(dir)?)
        }
        None => None,
    };
    let key = open_secret_key(args.key)?;
    if let Some(repo) = &repo {
        repo.require_signer(&key.0, &key.1)?;
    }
    let epoch = signing_time();
    let version = ReleaseVersion::from_unix(epoch)
        .map_err(|e| Error::Usage(format!("SOURCE_DATE_EPOCH {epoch}: {e}")))?;
    let out = args.output.unwrap_or_else(|| PathBuf::from("out/releases"));
    let store = args
        .target
        .packages
        .unwrap_or_else(|| PathBuf::from("out/packages"));
    let base = format!("{}-{}-{}", distro.name, board.name, version.text().as_str());
    step(&format!(
        "release {} of {} for {} ({}, {} bootloader)",
        version.text().as_str(),
        distro.name,
        board.name,
        board.target,
        board.bootloader
    ));

    fs::create_dir_all(&out).map_err(|e| Error::io("create", &out, e))?;
    let stage = out.join(format!(".{base}.partial-{}", std::process::id()));
    let work = std::env::temp_dir().join(format!("nanolin-release-{base}-{}", std::process::id()));
    for dir in [&stage, &work] {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let job = Job {
        distro: &distro,
        board: &board,
        key: &key,
        epoch,
        version,
        base: &base,
        stage: &stage,
        work: &work,
        loader: RefCell::default(),
    };
    let staged = match job.make(&store, args.target.verbose) {
        Ok(files) => files,
        Err(e) => {
            let _ = fs::remove_dir_all(&stage);
            // Kept for a look, unless nothing was done in it.
            if fs::remove_dir(&work).is_err() {
                eprintln!(
                    "    the work directory is kept for a look: {}",
                    work.display()
                );
            }
            return Err(e);
        }
    };
    let _ = fs::remove_dir_all(&work);

    step(&format!("writing into {}", out.display()));
    let mut files = Vec::new();
    for file in staged {
        let target = out.join(file.path.file_name().unwrap_or_default());
        fs::rename(&file.path, &target).map_err(|e| Error::io("move into place", &target, e))?;
        files.push(ReleaseFile {
            path: target,
            what: file.what,
        });
    }
    let _ = fs::remove_dir_all(&stage);

    if let (Some(repo), Some(dir)) = (&repo, &args.publish) {
        step(&format!(
            "publishing into {} (channel {channel})",
            dir.display()
        ));
        let signer = Signer::new(&key.0, &key.1);
        let (distro_files, release_files): (Vec<&ReleaseFile>, Vec<&ReleaseFile>) =
            files.iter().partition(|f| DISTRO_WHAT.contains(&f.what));
        let paths = |list: &[&ReleaseFile]| list.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
        add_artifacts(repo, &signer, &paths(&distro_files), true, None, lifetime)?;
        add_artifacts(
            repo,
            &signer,
            &paths(&release_files),
            false,
            Some(&channel),
            lifetime,
        )?;
    }
    print_summary(&board, &files, version);
    Ok(BuiltRelease { version, files })
}

/// What the distro build's files are, in the summary (they go to the repository's
/// `distros/`).
const DISTRO_WHAT: [&str; 5] = [
    "root file system (squashfs)",
    "its file list",
    "license report",
    "license report (SPDX 2.3)",
    "signature of the root file system",
];

/// One release being made: its inputs, and where it is staged.
struct Job<'a> {
    distro: &'a Distro,
    board: &'a Board,
    key: &'a (SigningKey, PathBuf),
    epoch: u64,
    version: ReleaseVersion,
    base: &'a str,
    stage: &'a Path,
    work: &'a Path,
    /// What the board's ROM or firmware loads first, found with its U-Boot package.
    loader: RefCell<LoaderFiles>,
}

/// The files a board's ROM or firmware loads first ([`crate::board::Loader`]), taken from
/// Debian's packages when the board's U-Boot package is unpacked.
#[derive(Debug, Default)]
struct LoaderFiles {
    /// For the boot partition's root: the name there, the file here.
    fat: Vec<(String, PathBuf)>,
    /// Written raw: the offset on the disk, the file here.
    raw: Vec<(u64, PathBuf)>,
    /// The contents of the `uboot_partitions`: the partition's name, the file here.
    parts: Vec<(String, PathBuf)>,
    /// The packages they come from, for the `.release` file: its key (`uboot`, `firmware`)
    /// and the package.
    packages: Vec<(&'static str, CachedDeb)>,
}

impl Job<'_> {
    fn staged(&self, suffix: &str) -> PathBuf {
        self.stage.join(format!("{}{suffix}", self.base))
    }

    /// Makes every output in the staging folder.
    fn make(&self, store: &Path, verbose: bool) -> Result<Vec<ReleaseFile>, Error> {
        let board = self.board;
        let cache = SourceCache::from_env()?;
        // The kernel and the initramfs go into the root file system too (`/boot`), so that
        // each slot carries the kernel it boots with (`nanolin-agent activate --kexec`).
        let initrd = self.staged(".initrd");
        let mut booted_with = None;
        let built = build_distro(
            self.distro,
            board,
            self.key,
            store,
            self.stage,
            verbose,
            self.epoch,
            &mut |root_dir| {
                step(&format!("kernel {} from Debian", board.kernel));
                let kernel = fetch_kernel(board, &cache)?;
                eprintln!(
                    "    {} {} (sha256 {})",
                    kernel.package,
                    kernel.version,
                    kernel.sha256_hex()
                );
                let unpacked = kernel.unpack(&self.work.join("kernel"))?;
                step("initramfs: init and the modules the board needs");
                let modules = self.initramfs(root_dir, &unpacked, &initrd)?;
                for (from, name) in [(&unpacked.image, SLOT_KERNEL), (&initrd, SLOT_INITRAMFS)] {
                    let to = root_dir.join(name);
                    fs::copy(from, &to).map_err(|e| Error::io("copy", &to, e))?;
                    set_mode(&to, 0o644)?;
                }
                booted_with = Some((kernel, unpacked, modules));
                Ok(())
            },
        )?;
        let (kernel, unpacked, modules) = booted_with.ok_or_else(|| {
            Error::Refused("the distro build did not compose a root file system".into())
        })?;
        let mut files: Vec<ReleaseFile> = built
            .files
            .iter()
            .map(|path| ReleaseFile {
                path: path.clone(),
                what: distro_file_what(path),
            })
            .collect();
        let root = built.image;
        self.check_root_fits(&root)?;

        step(&format!("boot files ({} bootloader)", board.bootloader));
        let dtb = match &board.dtb {
            Some(name) => Some(unpacked.dtb(name)?),
            None => None,
        };
        let defaults = match board.bootloader {
            Bootloader::Uboot => Some(self.uboot_defaults(&cache)?),
            _ => None,
        };
        let boot = boot_files(
            board,
            &BootInputs {
                kernel: &unpacked.image,
                initramfs: &initrd,
                dtb: dtb.as_deref(),
                tries: u8::try_from(self.distro.tries).unwrap_or(u8::MAX),
                uboot_default_env: defaults.as_deref(),
                source_date_epoch: self.epoch,
            },
            &self.work.join("boot"),
        )?;

        step("disk image: GPT, boot, root A, root B, data");
        let boot_image = self.boot_partition(&boot)?;
        let disk = self.staged(".disk.img");
        let bmap = self.staged(".disk.img.bmap");
        let map = self.disk_image(&boot, boot_image.as_deref(), &root, &disk, &bmap)?;

        step("update bundle");
        let bundle = self.staged(".nlb");
        let spec = BundleSpec {
            compatible: &board.compatible,
            version: self.version,
            min_version: None,
            created: self.epoch,
            expires: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
            hashes_per_block: DEFAULT_HASHES_PER_BLOCK,
            images: &[ImageSource {
                name: "rootfs".into(),
                path: root.clone(),
            }],
            untrusted_comment: verify_with_comment(&self.key.1),
        };
        let written = create(&spec, &self.key.0, &bundle)?;
        eprintln!(
            "    {} chunks, manifest {} bytes, signed by key {}",
            written.chunks, written.manifest_len, self.key.0.key_number
        );

        if let (Bootloader::Grub, true, Some(esp)) =
            (board.bootloader, board.efi, boot_image.as_deref())
        {
            step("hybrid ISO: live system and installer, from a CD or a USB stick");
            let iso = self.hybrid_iso(esp, &root, &bundle, &disk, &map)?;
            files.push(ReleaseFile {
                path: iso,
                what: "hybrid ISO (CD or USB stick)",
            });
        }
        files.push(ReleaseFile {
            path: disk.clone(),
            what: "disk image (flash it)",
        });
        files.push(ReleaseFile {
            path: bmap,
            what: "block map for bmaptool",
        });
        files.push(ReleaseFile {
            path: bundle.clone(),
            what: "update bundle",
        });
        if board.bootloader == Bootloader::Native {
            // QEMU loads these itself: they are not on the disk.
            let kernel_copy = self.staged(".kernel");
            fs::copy(&unpacked.image, &kernel_copy)
                .map_err(|e| Error::io("copy", &kernel_copy, e))?;
            files.push(ReleaseFile {
                path: kernel_copy,
                what: "kernel (QEMU -kernel)",
            });
            files.push(ReleaseFile {
                path: initrd,
                what: "initramfs (QEMU -initrd)",
            });
        } else {
            // On the boot partition, inside the disk image.
            fs::remove_file(&initrd).map_err(|e| Error::io("remove", &initrd, e))?;
        }
        let description = self.staged(".release");
        let listed: Vec<(String, PathBuf)> = files
            .iter()
            .map(|f| (file_name(&f.path), f.path.clone()))
            .collect();
        fs::write(
            &description,
            self.description(&kernel, &unpacked, &modules, &listed)?,
        )
        .map_err(|e| Error::io("write", &description, e))?;
        files.push(ReleaseFile {
            path: description,
            what: "release description",
        });
        Ok(files)
    }

    /// Makes the hybrid ISO (see [`crate::iso`] for its layout and
    /// [`nanolin_core::medium`] for its tree): GRUB's live menu, the root file system the live
    /// system runs from, the installer's ranges of the disk image `disk` (mapped by `map`), the
    /// bundle, and what GRUB boots. Returns its staged path.
    fn hybrid_iso(
        &self,
        esp: &Path,
        root: &Path,
        bundle: &Path,
        disk: &Path,
        map: &BlockMap,
    ) -> Result<PathBuf, Error> {
        let board = self.board;
        let iso = self.staged(".iso");
        let volume_id = format!("NANOLIN_{}", self.distro.name.to_ascii_uppercase())
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let title = format!("Nanolin {} {}", self.distro.name, self.version);
        let live_cfg = self.work.join("live.cfg");
        fs::write(&live_cfg, grub_live_cfg(board, &title, &volume_id))
            .map_err(|e| Error::io("write", &live_cfg, e))?;
        // The installer's copy of the disk: the boot and root A partitions' contents are
        // files of the ISO already.
        let offset = |role| {
            board
                .layout
                .partition(role)
                .map(|p| p.start_bytes())
                .unwrap_or(0)
        };
        let ranges = self.work.join("disk.ranges");
        let blocks = self.work.join("disk.blocks");
        let info = write_install_ranges(
            disk,
            map,
            &[
                Placed {
                    medium_path: EFI_IMAGE_PATH,
                    file: esp,
                    disk_offset: offset(Role::Boot),
                },
                Placed {
                    medium_path: medium::ROOT_IMAGE,
                    file: root,
                    disk_offset: offset(Role::RootA),
                },
            ],
            &format!(
                "{title} for {}: what the installer writes onto a disk, the blocks of {}",
                board.name,
                file_name(disk)
            ),
            &ranges,
            &blocks,
        )?;
        eprintln!(
            "    installer: {} ranges, {} bytes to write ({} zeros, {} from the ISO's files, {} \
             stored)",
            info.ranges, info.written, info.zeros, info.from_files, info.stored
        );
        // Booted as a CD, GRUB's $cmdpath is the ISO 9660 tree, not the ESP: the kernel,
        // initramfs and boot state are there too (the state read-only: a CD counts no
        // tries).
        let tree = self.work.join("boot");
        let bundle_name = format!("nanolin/{}", file_name(bundle));
        let mut contents = vec![
            (medium::LIVE_CFG.to_string(), live_cfg),
            (medium::ROOT_IMAGE.to_string(), root.to_path_buf()),
            (medium::RANGES.to_string(), ranges),
            (medium::BLOCKS.to_string(), blocks),
            (bundle_name, bundle.to_path_buf()),
        ];
        let env_path = match &board.boot_state.location {
            StateLocation::File { path, .. } => Some(path.clone()),
            _ => None,
        };
        for name in [GRUB_KERNEL_FILE, INITRAMFS_FILE]
            .into_iter()
            .map(String::from)
            .chain(env_path)
        {
            contents.push((name.clone(), tree.join(&name)));
        }
        let info = make_iso(
            &IsoSpec {
                volume_id: &volume_id,
                efi_image: esp,
                files: &contents,
                source_date_epoch: self.epoch,
            },
            &iso,
        )?;
        eprintln!("    {} bytes", info.size);
        Ok(iso)
    }

    /// Refuses a root file system larger than the board's root partitions.
    fn check_root_fits(&self, root: &Path) -> Result<(), Error> {
        let size = fs::metadata(root)
            .map_err(|e| Error::io("read", root, e))?
            .len();
        let slot = self
            .board
            .layout
            .partition(Role::RootA)
            .map(|p| p.size_bytes())
            .unwrap_or(0);
        if size > slot {
            return Err(Error::Refused(format!(
                "the root file system of {} is {size} bytes, but the root partitions of board {} \
                 hold {slot}: make the partitions larger in {} (partitions=) or drop packages \
                 from the distro",
                self.distro.name,
                self.board.name,
                self.board.path.display()
            )));
        }
        eprintln!(
            "    root file system: {size} bytes of {slot} ({}%)",
            size * 100 / slot.max(1)
        );
        Ok(())
    }

    /// Writes the initramfs to `out`, with stage1 from the composed root folder `root`;
    /// returns the modules it loads, in order.
    fn initramfs(
        &self,
        root: &Path,
        kernel: &KernelFiles,
        out: &Path,
    ) -> Result<Vec<String>, Error> {
        let tree = self.work.join("initramfs");
        for dir in ["dev", "proc", "sys", "run", "etc/nanolin"] {
            let path = tree.join(dir);
            fs::create_dir_all(&path).map_err(|e| Error::io("create", &path, e))?;
        }
        let init = tree.join("init");
        let stage1 = root.join(STAGE1_PATH);
        fs::copy(&stage1, &init).map_err(|e| {
            Error::Refused(format!(
                "{}: no /{STAGE1_PATH} to start the board with ({e}): the distro needs the \
                 nanolin-init package",
                stage1.display()
            ))
        })?;
        set_mode(&init, 0o755)?;
        let conf = tree.join(BOOT_CONF);
        fs::write(&conf, boot_conf(self.board, self.distro.tries))
            .map_err(|e| Error::io("write", &conf, e))?;

        let mut names: Vec<&str> = self.board.modules.iter().map(String::as_str).collect();
        names.extend(FS_MODULES);
        let closure = kernel.modules_closure(&names)?;
        let release_dir = Path::new("lib/modules").join(&kernel.release);
        let mut order = String::new();
        let mut loaded = Vec::new();
        for module in &closure.files {
            let at = tree.join(&release_dir).join(&module.relative);
            if let Some(dir) = at.parent() {
                fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
            }
            fs::copy(&module.path, &at).map_err(|e| Error::io("copy", &at, e))?;
            set_mode(&at, 0o644)?;
            let _ = writeln!(order, "{}", module.relative.display());
            loaded.push(module.name.clone());
        }
        let order_file = tree.join(MODULE_ORDER);
        fs::write(&order_file, order).map_err(|e| Error::io("write", &order_file, e))?;
        let info = write_initramfs(
            &tree,
            out,
            &InitramfsSpec {
                source_date_epoch: self.epoch,
                compression: Compression::Gzip,
            },
        )?;
        eprintln!(
            "    {} modules ({} built in), {} entries, {} bytes",
            closure.files.len(),
            closure.builtin.len(),
            info.entries,
            info.len
        );
        Ok(loaded)
    }

    /// The default environment of the board's U-Boot build.
    fn uboot_defaults(&self, cache: &SourceCache) -> Result<Vec<(String, String)>, Error> {
        let board = self.board;
        let package = board.bootloader_package.as_deref().unwrap_or("u-boot");
        let deb = fetch_deb_from(board.debian_suite.as_deref(), package, board.arch, cache)?;
        let dir = self.work.join("uboot");
        deb.unpack(&dir)?;
        let builds = dir.join("usr/lib/u-boot");
        let config = match &board.uboot_config {
            Some(config) => config.clone(),
            None => {
                let mut found: Vec<String> = fs::read_dir(&builds)
                    .map_err(|e| Error::io("list", &builds, e))?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                found.sort();
                match &found[..] {
                    [one] => one.clone(),
                    _ => {
                        return Err(Error::Refused(format!(
                            "{package} holds the U-Boot builds {}: name the board's with \
                             uboot_config= in {}",
                            found.join(", "),
                            board.path.display()
                        )))
                    }
                }
            }
        };
        let build = builds.join(&config);
        let binary = [
            "u-boot.bin",
            "u-boot.img",
            "u-boot.itb",
            "u-boot-sunxi-with-spl.bin",
        ]
        .iter()
        .map(|name| build.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::Refused(format!(
                "{package} has no U-Boot binary in /usr/lib/u-boot/{config}: check \
                     uboot_config= in {}",
                board.path.display()
            ))
        })?;
        let bytes = fs::read(&binary).map_err(|e| Error::io("read", &binary, e))?;
        let defaults = uboot_default_env(&bytes)?;
        eprintln!(
            "    U-Boot {config} from {package} {}: {} default variables",
            deb.version,
            defaults.len()
        );
        self.loader_files(cache, &build, deb)?;
        Ok(defaults)
    }

    /// Finds what the board's ROM or firmware loads first (`uboot_files`, `uboot_raw`, the
    /// firmware package's files and `config.txt`) in the unpacked U-Boot build `build`
    /// (from `uboot`) and the firmware package, fetched here.
    fn loader_files(
        &self,
        cache: &SourceCache,
        build: &Path,
        uboot: CachedDeb,
    ) -> Result<(), Error> {
        let board = self.board;
        let wanted = &board.loader;
        let mut found = LoaderFiles::default();
        let from_build = |name: &str| -> Result<PathBuf, Error> {
            let path = build.join(name);
            if !path.is_file() {
                return Err(Error::Refused(format!(
                    "{} {} has no {name} in {}: check uboot_files=, uboot_raw= and \
                     uboot_partitions= in {}",
                    uboot.package,
                    uboot.version,
                    build.display(),
                    board.path.display()
                )));
            }
            Ok(path)
        };
        for name in &wanted.uboot_files {
            let file = Path::new(name).file_name().unwrap_or_default();
            found
                .fat
                .push((file.to_string_lossy().into_owned(), from_build(name)?));
        }
        for (name, offset) in &wanted.uboot_raw {
            found.raw.push((*offset, from_build(name)?));
        }
        for part in &wanted.uboot_partitions {
            found
                .parts
                .push((part.name.clone(), from_build(&part.file)?));
        }
        if !wanted.uboot_files.is_empty()
            || !wanted.uboot_raw.is_empty()
            || !wanted.uboot_partitions.is_empty()
        {
            eprintln!(
                "    from {}: {}",
                uboot.package,
                wanted
                    .uboot_files
                    .iter()
                    .map(|f| format!("{f} (boot partition)"))
                    .chain(
                        wanted
                            .uboot_raw
                            .iter()
                            .map(|(f, o)| format!("{f} (raw at {o:#x})"))
                    )
                    .chain(wanted.uboot_partitions.iter().map(|p| format!(
                        "{} (partition {} at {:#x})",
                        p.file,
                        p.name,
                        p.start_bytes()
                    )))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        found.packages.push(("uboot", uboot));
        if let Some(package) = &wanted.firmware_package {
            let deb = fetch_deb_from(board.debian_suite.as_deref(), package, board.arch, cache)?;
            let dir = self.work.join("firmware");
            deb.unpack(&dir)?;
            for name in &wanted.firmware_files {
                let path = dir.join(name);
                if !path.is_file() {
                    return Err(Error::Refused(format!(
                        "{package} {} has no /{name}: check firmware_files= in {}",
                        deb.version,
                        board.path.display()
                    )));
                }
                let file = Path::new(name).file_name().unwrap_or_default();
                found.fat.push((file.to_string_lossy().into_owned(), path));
            }
            if !wanted.firmware_config.is_empty() {
                let config = self.work.join("config.txt");
                let text = format!(
                    "# Written by nanolin release build for {}: the Raspberry Pi firmware's \
                     settings (firmware_config= in the board file).\n{}\n",
                    board.name,
                    wanted.firmware_config.join("\n")
                );
                fs::write(&config, text).map_err(|e| Error::io("write", &config, e))?;
                found.fat.push(("config.txt".to_string(), config));
            }
            eprintln!(
                "    firmware from {package} {}: {}",
                deb.version,
                found
                    .fat
                    .iter()
                    .skip(wanted.uboot_files.len())
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            found.packages.push(("firmware", deb));
        }
        *self.loader.borrow_mut() = found;
        Ok(())
    }

    /// The boot partition's vfat image, for boards whose boot partition has a file system.
    fn boot_partition(&self, boot: &BootFiles) -> Result<Option<PathBuf>, Error> {
        let Some(tree) = &boot.tree else {
            return Ok(None);
        };
        let size = self
            .board
            .layout
            .partition(Role::Boot)
            .map(|p| p.size_bytes())
            .unwrap_or(0);
        for (name, file) in &self.loader.borrow().fat {
            let to = tree.join(name);
            if to.exists() {
                return Err(Error::Refused(format!(
                    "{name} is on the boot partition already (a file of the boot script or the \
                     kernel): the board's loader files must not replace it; check \
                     uboot_files= and firmware_files= in {}",
                    self.board.path.display()
                )));
            }
            fs::copy(file, &to).map_err(|e| Error::io("copy", &to, e))?;
            set_mode(&to, 0o644)?;
        }
        let image = self.work.join("boot.vfat");
        make_vfat(
            Some(tree),
            &image,
            &VfatSpec {
                size,
                label: if self.board.efi { "ESP" } else { "BOOT" },
                volume_id: u32::from_be_bytes(
                    Guid::derive(self.base, "boot-volume-id").to_gpt_bytes()[..4]
                        .try_into()
                        .unwrap_or([0; 4]),
                ),
                source_date_epoch: self.epoch,
            },
        )?;
        Ok(Some(image))
    }

    /// Writes the disk image and its block map.
    fn disk_image(
        &self,
        boot: &BootFiles,
        boot_image: Option<&Path>,
        root: &Path,
        out: &Path,
        bmap: &Path,
    ) -> Result<BlockMap, Error> {
        let board = self.board;
        let gpt = Gpt::new(board.disk_size, self.base, disk_partitions(board))?;

        // Small: stage1 grows it (see DATA_IMAGE_MAX).
        let data_size = board
            .layout
            .partition(Role::Data)
            .map(|p| p.size_bytes())
            .unwrap_or(0)
            .min(DATA_IMAGE_MAX);
        let data = self.work.join("data.ext4");
        make_ext4(
            None,
            &data,
            &Ext4Spec {
                size: data_size - data_size % 4096,
                label: "data",
                uuid: Guid::derive(self.base, "data-uuid"),
                hash_seed: Guid::derive(self.base, "data-hash-seed"),
                source_date_epoch: self.epoch,
            },
        )?;

        // The native record sits at the start of the raw boot partition: its content.
        let mut raw_after = None;
        let mut raw_boot = None;
        if let Some(raw) = &boot.raw {
            match (&raw.location, boot_image) {
                (
                    StateLocation::Partition {
                        role: Role::Boot,
                        offset,
                    },
                    None,
                ) => {
                    let file = self.work.join("boot.raw");
                    let mut bytes = vec![0u8; usize::try_from(*offset).unwrap_or(0)];
                    bytes.extend_from_slice(&raw.bytes);
                    fs::write(&file, bytes).map_err(|e| Error::io("write", &file, e))?;
                    raw_boot = Some(file);
                }
                _ => raw_after = Some(raw),
            }
        }
        let mut contents = Vec::new();
        if let Some(file) = boot_image.or(raw_boot.as_deref()) {
            contents.push(Content {
                partition: Role::Boot.as_str(),
                file,
                mapping: Mapping::Full,
            });
        }
        contents.push(Content {
            partition: Role::RootA.as_str(),
            file: root,
            mapping: Mapping::Full,
        });
        contents.push(Content {
            partition: Role::Data.as_str(),
            file: &data,
            mapping: Mapping::Full,
        });
        // The U-Boot build's files in their partitions (uboot_partitions=).
        let loader = self.loader.borrow();
        for (name, file) in &loader.parts {
            contents.push(Content {
                partition: name,
                file,
                mapping: Mapping::Full,
            });
        }
        let mut map = write_image(&gpt, &contents, out)?;
        if let Some(raw) = raw_after {
            // A state outside the partitions (U-Boot's raw environment before the first one).
            let mut file = OpenOptions::new()
                .write(true)
                .open(out)
                .map_err(|e| Error::io("open", out, e))?;
            file.seek(SeekFrom::Start(raw.disk_offset))
                .and_then(|_| file.write_all(&raw.bytes))
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io("write the boot state into", out, e))?;
            map.add(raw.disk_offset, raw.bytes.len() as u64);
        }
        self.write_raw_loader(out, &mut map)?;
        write_bmap(out, &map, bmap)?;
        eprintln!(
            "    {} bytes, {} of {} blocks to flash",
            map.image_size(),
            map.mapped_count(),
            map.blocks_count()
        );
        Ok(map)
    }

    /// Writes the board's raw loader files (`uboot_raw`) into the disk image `out` and maps
    /// them, after checking each lies before the first partition and clear of the others and
    /// of a raw boot state.
    fn write_raw_loader(&self, out: &Path, map: &mut crate::disk::BlockMap) -> Result<(), Error> {
        let board = self.board;
        let loader = self.loader.borrow();
        if loader.raw.is_empty() {
            return Ok(());
        }
        let first = board
            .layout
            .partitions
            .first()
            .map_or(0, |p| p.start_bytes());
        let mut taken: Vec<(u64, u64, String)> = Vec::new();
        if let StateLocation::Disk { offset } = board.boot_state.location {
            let end = offset.saturating_add(board.boot_state.region_len());
            taken.push((offset, end, "the U-Boot environment".to_string()));
        }
        for p in &board.loader.uboot_partitions {
            let end = p.start_bytes().saturating_add(p.size_bytes());
            taken.push((p.start_bytes(), end, format!("partition {}", p.name)));
        }
        let mut file = OpenOptions::new()
            .write(true)
            .open(out)
            .map_err(|e| Error::io("open", out, e))?;
        for (offset, path) in &loader.raw {
            let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
            let name = file_name(path);
            let end = offset.saturating_add(bytes.len() as u64);
            if end > first {
                return Err(Error::Refused(format!(
                    "{name} ({} bytes) written at {offset:#x} would end at {end:#x}, past the \
                     first partition at {first:#x}: move it (uboot_raw=) or raise \
                     first_partition_offset in {}",
                    bytes.len(),
                    board.path.display()
                )));
            }
            if let Some((_, _, other)) = taken.iter().find(|(s, e, _)| *offset < *e && *s < end) {
                return Err(Error::Refused(format!(
                    "{name} at {offset:#x} to {end:#x} overlaps {other}: move it (uboot_raw=) \
                     in {}",
                    board.path.display()
                )));
            }
            taken.push((*offset, end, name));
            file.seek(SeekFrom::Start(*offset))
                .and_then(|_| file.write_all(&bytes))
                .map_err(|e| Error::io("write the bootloader into", out, e))?;
            map.add(*offset, bytes.len() as u64);
        }
        file.sync_all()
            .map_err(|e| Error::io("write the bootloader into", out, e))?;
        Ok(())
    }

    /// The `.release` file: what the release is made of, as key=value lines.
    fn description(
        &self,
        kernel: &Kernel,
        unpacked: &KernelFiles,
        modules: &[String],
        files: &[(String, PathBuf)],
    ) -> Result<String, Error> {
        let board = self.board;
        let mut text = format!(
            "# Written by nanolin release build: what this release is made of.\n\
             format=1\n\
             distro={}\n\
             board={}\n\
             compatible={}\n\
             version={}\n\
             bootloader={}\n\
             kernel_package={}\n\
             kernel_version={}\n\
             kernel_sha256={}\n\
             kernel_release={}\n\
             debian_suite={}\n\
             modules=\"{}\"\n",
            self.distro.name,
            board.name,
            board.compatible,
            self.version.text().as_str(),
            board.bootloader,
            kernel.package,
            kernel.version,
            kernel.sha256_hex(),
            unpacked.release,
            // Where the kernel and bootloader packages came from: the host's apt sources, or
            // the board's own suite (Kernel::pinned_for refetches from the same one).
            board.debian_suite.as_deref().unwrap_or("host"),
            modules.join(" "),
        );
        for (key, deb) in &self.loader.borrow().packages {
            // Pinned like the kernel: a rebuild takes exactly these (kernel::pinned_deb).
            let _ = writeln!(
                text,
                "{key}_package={}\n{key}_version={}\n{key}_sha256={}",
                deb.package,
                deb.version,
                crate::kernel::hex(&deb.sha256)
            );
        }
        for (name, path) in files {
            let (size, sha) = sha256_file(path)?;
            let _ = writeln!(text, "file=\"{name} {size} {}\"", crate::repo::hex(&sha));
        }
        Ok(text)
    }
}

/// What stage1 reads from `/etc/nanolin/boot.conf`: where the boot state is (`native`
/// boards: stage1 picks the slot) and the devices of the slots and the data partition.
pub fn boot_conf(board: &Board, tries: u32) -> String {
    let device = |role: Role| board.role_device(role);
    let mut text = format!(
        "# Written by nanolin release build for {}: what the initramfs' stage1 needs.\n\
         bootstate={}\n",
        board.name, board.bootloader
    );
    if board.bootloader == Bootloader::Native {
        let (path, offset) = match &board.boot_state.location {
            StateLocation::Partition { role, offset } => (device(*role), *offset),
            StateLocation::Disk { offset } => (board.disk_device.clone(), *offset),
            StateLocation::File { .. } => (String::new(), 0),
        };
        let _ = writeln!(text, "bootstate_path={path}\nbootstate_offset={offset}");
    }
    let _ = writeln!(
        text,
        "slot_a={}\nslot_b={}\ndata={}\ntries={tries}",
        device(Role::RootA),
        device(Role::RootB),
        device(Role::Data)
    );
    // A boot state file: stage1 mounts its partition for the agent (see distro::BOOTFS).
    if let StateLocation::File { role, .. } = &board.boot_state.location {
        let _ = writeln!(text, "bootfs={}", device(*role));
    }
    text
}

/// The GPT entries of `board`'s disk, in table order: the `uboot_partitions` first (named
/// and typed as the board file says), then the partitions of its layout, named after their
/// roles. When U-Boot partitions come first the boot partition carries the legacy BIOS
/// bootable attribute: U-Boot's boot scan (`part list -bootable` in distro boot, the bootstd
/// bootdev) reads partition 1 only when no partition has it.
pub fn disk_partitions(board: &Board) -> Vec<Partition> {
    let uboot = &board.loader.uboot_partitions;
    let firmware = uboot.iter().map(|p| Partition {
        name: p.name.clone(),
        type_guid: p.type_guid,
        start_sector: p.start_sector,
        size_sectors: p.size_sectors,
        attributes: 0,
    });
    let layout = board.layout.partitions.iter().map(|p| Partition {
        name: p.role.as_str().to_string(),
        type_guid: partition_type(board, p.role),
        start_sector: p.start_sector,
        size_sectors: p.size_sectors,
        attributes: if p.role == Role::Boot && !uboot.is_empty() {
            attribute::LEGACY_BIOS_BOOTABLE
        } else {
            0
        },
    });
    firmware.chain(layout).collect()
}

/// The GPT type of a partition of `board`.
fn partition_type(board: &Board, role: Role) -> Guid {
    match role {
        // What the board's firmware looks for (boot_partition_type=): UEFI the EFI System
        // Partition, the Pi 4's EEPROM bootloader basic data or ESP; U-Boot reads FAT from a
        // partition of any type, and Linux data keeps tools from offering to mount it as
        // Windows data.
        Role::Boot => match board.boot_partition_type {
            BootPartitionType::Esp => part_type::EFI_SYSTEM,
            BootPartitionType::BasicData => part_type::BASIC_DATA,
            BootPartitionType::Linux => part_type::LINUX_DATA,
        },
        Role::Data => part_type::LINUX_DATA,
        Role::RootA | Role::RootB => match board.arch {
            Arch::Aarch64 => part_type::ROOT_AARCH64,
            Arch::X86_64 => part_type::ROOT_X86_64,
            Arch::Riscv64 => part_type::ROOT_RISCV64,
            Arch::Armv7 => part_type::ROOT_ARM,
        },
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set the mode of", path, e))
}

/// What a file of the distro build is, from its name.
fn distro_file_what(path: &Path) -> &'static str {
    let name = path.to_string_lossy();
    let ends = |suffix: &str| name.ends_with(suffix);
    if ends(".img.sig") {
        DISTRO_WHAT[4]
    } else if ends(".spdx.json") {
        DISTRO_WHAT[3]
    } else if ends(".licenses.txt") {
        DISTRO_WHAT[2]
    } else if ends(".lst") {
        DISTRO_WHAT[1]
    } else {
        DISTRO_WHAT[0]
    }
}

/// Bytes, shortly: `1.5 GiB`, `12.0 MiB`, `800 KiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The table of what was written, then how to flash and boot it.
fn print_summary(board: &Board, files: &[ReleaseFile], version: ReleaseVersion) {
    let width = files
        .iter()
        .map(|f| f.path.display().to_string().len())
        .max()
        .unwrap_or(0);
    eprintln!();
    eprintln!(
        "Release {} for {} ({}):",
        version.text().as_str(),
        board.name,
        board.description
    );
    for file in files {
        let size = fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "  {:<width$}  {:>10}  {}",
            file.path.display(),
            human(size),
            file.what
        );
    }
    let find = |what: &str| {
        files
            .iter()
            .find(|f| f.what == what)
            .map(|f| f.path.display().to_string())
    };
    eprintln!();
    if let Some(disk) = find("disk image (flash it)") {
        eprintln!("Flash it (only the blocks in use):  bmaptool copy {disk} /dev/sdX");
        if board.has_qemu() {
            eprintln!(
                "Boot it in QEMU (it writes to the image; --snapshot keeps it):  nanolin release \
                 run {disk}"
            );
        }
    }
    if let Some(bundle) = find("update bundle") {
        eprintln!(
            "Update boards to it:  nanolin repo publish REPO {bundle} -c CHANNEL -s KEY.sec \
             (or release build --publish REPO)"
        );
    }
}
