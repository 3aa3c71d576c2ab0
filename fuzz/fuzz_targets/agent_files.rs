//! The agent's text files of any content: its configuration, its status record and channel
//! files, and init's `status` answer its health check reads. Parsing never panics; a status
//! record or channel file it accepts writes back to text that parses to the same value.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nanolin_agent::channel::Channel;
use nanolin_agent::config::AgentConfig;
use nanolin_agent::status::Status;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = AgentConfig::parse(Path::new("agent.conf"), text);
    let _ = nanolin_agent::health::parse_status(text);
    if let Ok(status) = Status::parse("status", text) {
        let again = Status::parse("status", &status.to_text()).expect("a written status parses");
        assert_eq!(again, status);
    }
    if let Ok(channel) = Channel::parse(text) {
        // Values with shell syntax may not survive plain writing; those that do must match.
        if let Ok(again) = Channel::parse(&channel.to_text()) {
            assert_eq!(again.version, channel.version);
        }
    }
});
