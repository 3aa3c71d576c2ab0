use super::*;

fn fed(chunks: &[&[u8]]) -> StatusLine {
    let mut status = StatusLine::new("build", Display::Plain);
    for chunk in chunks {
        status.feed(chunk);
    }
    status
}

#[test]
fn last_line_is_the_last_non_blank_one_across_chunks() {
    let status = fed(&[b"   Compiling a v1\n   Comp", b"iling b v2\n\n  \n"]);
    assert_eq!(status.last_line(), "Compiling b v2");
    assert_eq!(status.lines(), 2);
}

#[test]
fn a_line_being_printed_shows_before_it_ends() {
    let status = fed(&[b"done\nchecking for gcc... "]);
    assert_eq!(status.last_line(), "checking for gcc...");
    assert_eq!(status.lines(), 1);
}

#[test]
fn carriage_returns_end_lines_like_a_progress_bar_redrawing() {
    let status = fed(&[b"  10%\r  55%\r 100%\r"]);
    assert_eq!(status.last_line(), "100%");
}

#[test]
fn escape_sequences_and_control_characters_are_dropped() {
    let status = fed(&[
        b"\x1b[1m\x1b[32m   Compiling\x1b[0m x\x07 v1\ttab\x1b",
        b"[K\n",
    ]);
    assert_eq!(status.last_line(), "Compiling x v1 tab");
}

#[test]
fn invalid_utf8_does_not_stop_it() {
    let status = fed(&[b"caf\xff\xfe ok\n"]);
    assert_eq!(status.last_line(), "caf\u{fffd}\u{fffd} ok");
}

#[test]
fn an_endless_line_is_kept_short() {
    let status = fed(&[&[b'x'; 10 * MAX_LINE]]);
    assert_eq!(status.last_line().len(), MAX_LINE);
}

#[test]
fn render_shows_label_time_and_line_cut_to_the_width() {
    let status = fed(&[b"   Compiling nanolin-agent v0.1.0 (/build/nanolin/agent)\n"]);
    let secs = Duration::from_secs(65);
    assert_eq!(
        status.render(secs, None),
        "    build 1m05s: Compiling nanolin-agent v0.1.0 (/build/nanolin/agent)"
    );
    assert_eq!(
        status.render(secs, Some(30)),
        "    build 1m05s: Compiling na"
    );
    assert_eq!(status.render(secs, Some(30)).chars().count(), 29);
    let silent = fed(&[]);
    assert_eq!(silent.render(Duration::from_secs(3), None), "    build 3s");
}

#[test]
fn terminal_draws_in_place_and_clears_once() {
    let mut status = StatusLine::new("build", Display::Terminal { width: 40 });
    status.feed(b"step one\n");
    let mut out = Vec::new();
    status.draw(&mut out);
    status.draw(&mut out);
    status.clear(&mut out);
    status.clear(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("\r\x1b[K").count(), 3, "{text:?}");
    assert!(!text.contains('\n'), "{text:?}");
    assert!(text.contains("build 0s: step one"), "{text:?}");
}

#[test]
fn plain_output_prints_whole_lines_and_clears_nothing() {
    let mut status = StatusLine::new("build", Display::Plain);
    status.feed(b"step one\n");
    let mut out = Vec::new();
    status.draw(&mut out);
    status.clear(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "    build 0s: step one\n");
}

#[test]
fn elapsed_is_short_at_every_scale() {
    assert_eq!(format_elapsed(Duration::from_millis(999)), "0s");
    assert_eq!(format_elapsed(Duration::from_secs(59)), "59s");
    assert_eq!(format_elapsed(Duration::from_secs(60)), "1m00s");
    assert_eq!(format_elapsed(Duration::from_secs(3599)), "59m59s");
    assert_eq!(format_elapsed(Duration::from_secs(3720)), "1h02m");
}

#[test]
fn intervals_suit_each_display() {
    assert_eq!(
        Display::Terminal { width: 80 }.interval(),
        TERMINAL_INTERVAL
    );
    assert_eq!(Display::Plain.interval(), PLAIN_INTERVAL);
}
