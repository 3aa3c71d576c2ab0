//! `nanolin bundle create` and `nanolin bundle info`.

use std::path::{Path, PathBuf};

use nanolin_core::bundle::DEFAULT_HASHES_PER_BLOCK;
use nanolin_core::version::{utc_parts, ReleaseVersion};

use crate::bundling::{create, describe_image, BundleFile, BundleSpec, ImageSource};
use crate::cli::{BundleCommand, BundleCreateArgs, BundleInfoArgs};
use crate::cmd::open_secret_key;
use crate::error::{Error, Status};
use crate::keyfile::load_public_key;
use crate::signing::{signing_time, verify_with_comment};

/// Runs `nanolin bundle …`.
pub fn run(command: BundleCommand) -> Result<Status, Error> {
    match command {
        BundleCommand::Create(args) => create_bundle(args),
        BundleCommand::Info(args) => info(args),
    }
}

/// Seconds in a duration written `90d`, `12h`, `30m`, `3600s`, `2w` or plain seconds.
pub fn parse_duration(text: &str) -> Result<u64, Error> {
    let bad = || {
        Error::Usage(format!(
            "{text:?} is not a duration: write a number with s, m, h, d or w, e.g. 90d"
        ))
    };
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let count: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    count.checked_mul(scale).filter(|s| *s > 0).ok_or_else(bad)
}

fn parse_version(flag: &str, text: &str) -> Result<ReleaseVersion, Error> {
    ReleaseVersion::parse(text).map_err(|e| Error::Usage(format!("{flag} {text:?}: {e}")))
}

fn parse_image(text: &str) -> ImageSource {
    match text.split_once('=') {
        Some((name, path)) if !name.contains('/') => ImageSource {
            name: name.to_string(),
            path: PathBuf::from(path),
        },
        _ => ImageSource {
            name: "rootfs".to_string(),
            path: PathBuf::from(text),
        },
    }
}

fn create_bundle(args: BundleCreateArgs) -> Result<Status, Error> {
    let created = signing_time();
    let version = match &args.version {
        Some(v) => parse_version("--version", v)?,
        None => ReleaseVersion::from_unix(created)
            .map_err(|e| Error::Usage(format!("the clock gives no release version: {e}")))?,
    };
    let min_version = match &args.min_version {
        Some(v) => Some(parse_version("--min-version", v)?),
        None => None,
    };
    let expires = match &args.expires {
        Some(d) => Some(created.saturating_add(parse_duration(d)?)),
        None => None,
    };
    let images: Vec<ImageSource> = args.images.iter().map(|i| parse_image(i)).collect();
    let (key, secret_path) = open_secret_key(args.key)?;
    let spec = BundleSpec {
        compatible: &args.board,
        version,
        min_version,
        created,
        expires,
        chunk_size: args.chunk_size,
        hashes_per_block: DEFAULT_HASHES_PER_BLOCK,
        images: &images,
        untrusted_comment: verify_with_comment(&secret_path),
    };
    let written = create(&spec, &key, &args.output)?;
    eprintln!(
        "{}: bundle {} for {}, {} bytes, {} chunks, manifest {} bytes, signed by key {}",
        args.output.display(),
        version,
        args.board,
        written.bundle_len,
        written.chunks,
        written.manifest_len,
        key.key_number
    );
    Ok(Status::Success)
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_text(unix: u64) -> String {
    let [y, mo, d, h, mi, s] = utc_parts(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

fn info(args: BundleInfoArgs) -> Result<Status, Error> {
    let path: &Path = &args.bundle;
    let bundle = BundleFile::read(path)?;
    let checked = match &args.public_key {
        Some(key_path) => {
            let key = load_public_key(key_path)?;
            bundle.verify(&key, path)?;
            format!("good signature by key {}", key.key_number)
        }
        None => format!(
            "signed by key {} (not checked: pass -p KEY.pub)",
            bundle
                .key_number()
                .map(|k| k.to_string())
                .unwrap_or_else(|| "?".into())
        ),
    };
    let manifest = bundle.manifest(path)?;
    println!("bundle:      {}", path.display());
    println!("board:       {}", manifest.compatible);
    println!("version:     {}", manifest.version);
    if let Some(min) = manifest.min_version {
        println!("min version: {min}");
    }
    println!("created:     {}", utc_text(manifest.created));
    if let Some(expires) = manifest.expires {
        println!("expires:     {}", utc_text(expires));
    }
    println!("signature:   {checked}");
    for image in manifest.images() {
        println!("image:       {}", describe_image(image));
    }
    let expected = bundle.header.payload_offset() + manifest.payload_len();
    println!("length:      {} bytes", bundle.file_len);
    if bundle.file_len != expected {
        return Err(Error::Refused(format!(
            "{}: the file has {} bytes but its manifest says {expected}: {}",
            path.display(),
            bundle.file_len,
            if bundle.file_len < expected {
                "truncated (an interrupted copy?)"
            } else {
                "bytes were appended"
            }
        )));
    }
    Ok(Status::Success)
}
