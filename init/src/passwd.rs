//! Looking a user up in `/etc/passwd` text, without the C library's NSS machinery (which
//! would bring malloc and stdio into a 64 KiB PID 1).

/// The uid and gid of `name` in passwd-format `text` (`name:password:uid:gid:…` lines).
pub fn find_user(text: &[u8], name: &str) -> Option<(u32, u32)> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let mut fields = line.split(|&b| b == b':');
        if fields.next()? != name.as_bytes() {
            return None;
        }
        let _password = fields.next()?;
        let uid = core::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
        let gid = core::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
        Some((uid, gid))
    })
}

/// `uid[:gid]` as numbers (the gid defaults to the uid), or `None` for a name.
pub fn numeric_user(user: &str) -> Option<(u32, u32)> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid: u32 = uid.parse().ok()?;
    let gid = match gid {
        Some(g) => g.parse().ok()?,
        None => uid,
    };
    Some((uid, gid))
}

#[cfg(test)]
#[path = "passwd_tests.rs"]
mod tests;
