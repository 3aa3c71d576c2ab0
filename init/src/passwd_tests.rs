//! Unit tests of `passwd`.

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
