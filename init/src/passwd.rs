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
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nagent:x:1001:1002::/var/lib/agent:/sbin/nologin\nbroken:x:zz:1\n";

    #[test]
    fn finds_users_by_name_and_number() {
        assert_eq!(find_user(PASSWD, "agent"), Some((1001, 1002)));
        assert_eq!(find_user(PASSWD, "root"), Some((0, 0)));
        assert_eq!(find_user(PASSWD, "nobody"), None);
        assert_eq!(find_user(PASSWD, "broken"), None);
        assert_eq!(find_user(PASSWD, "agen"), None);
        assert_eq!(numeric_user("1000"), Some((1000, 1000)));
        assert_eq!(numeric_user("1000:5"), Some((1000, 5)));
        assert_eq!(numeric_user("agent"), None);
        assert_eq!(numeric_user("1:x"), None);
    }
}
