//! Unit tests of `version`.

use super::*;

#[test]
fn design_example() {
    let v = ReleaseVersion::parse("r19.02-G22132245").unwrap();
    // date -u -d '2019-02-22 13:22:45' +%s
    assert_eq!(v.unix(), 1_550_841_765);
    assert_eq!(v.text().as_str(), "r19.02-G22132245");
}

#[test]
fn round_trips_and_orders() {
    let mut previous = None;
    for unix in (EPOCH_2000..EPOCH_2100).step_by(7_654_321) {
        let v = ReleaseVersion::from_unix(unix).unwrap();
        let text = v.text();
        assert_eq!(
            ReleaseVersion::parse(text.as_str()).unwrap(),
            v,
            "{}",
            text.as_str()
        );
        if let Some(p) = previous {
            assert!(p < v);
            assert!(
                text.as_str() > ReleaseVersion::text(p).as_str()
                    || text.as_str()[1..3] < ReleaseVersion::text(p).as_str()[1..3]
            );
        }
        previous = Some(v);
    }
    let leap = ReleaseVersion::parse("r24.02-G29235959").unwrap();
    assert_eq!(leap.text().as_str(), "r24.02-G29235959");
    assert_eq!(
        ReleaseVersion::from_unix(leap.unix() + 1)
            .unwrap()
            .text()
            .as_str(),
        "r24.03-G01000000"
    );
}

#[test]
fn refuses_bad_text() {
    assert_eq!(
        ReleaseVersion::parse(""),
        Err(VersionError::Shape { column: 1 })
    );
    assert_eq!(
        ReleaseVersion::parse("r19.02-22132245"),
        Err(VersionError::Shape { column: 8 })
    );
    assert_eq!(
        ReleaseVersion::parse("r19.02-G2213224"),
        Err(VersionError::Shape { column: 16 })
    );
    assert_eq!(
        ReleaseVersion::parse("r19.02-G221322450"),
        Err(VersionError::Shape { column: 17 })
    );
    assert_eq!(
        ReleaseVersion::parse("r19.13-G22132245"),
        Err(VersionError::NoSuchTime)
    );
    assert_eq!(
        ReleaseVersion::parse("r23.02-G29000000"),
        Err(VersionError::NoSuchTime)
    );
    assert_eq!(
        ReleaseVersion::parse("r19.02-G22240000"),
        Err(VersionError::NoSuchTime)
    );
    assert_eq!(
        ReleaseVersion::parse("r19.02-G2213224é"),
        Err(VersionError::Shape { column: 16 })
    );
    assert_eq!(ReleaseVersion::from_unix(0), Err(VersionError::OutOfRange));
}
