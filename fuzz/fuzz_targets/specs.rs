//! The small languages of the command line: data specs (`mnist`,
//! `text:FILE`, `shakespeare:val=F`, ...), grid ranges (`-1:1:51`), shards
//! (`k/N`) and direction options. Parsing must never panic, and what parses
//! must print back to a spec that parses to the same thing.
#![no_main]

use landscape::{DirType, Ignore, Norm, Range, Shard};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = datasets::DataSpec::parse(s) {
        let again = datasets::DataSpec::parse(&spec.to_string()).expect("a printed spec parses");
        assert_eq!(again.to_string(), spec.to_string());
    }
    if let Ok(r) = s.parse::<Range>() {
        let v = r.values();
        assert_eq!(v.len(), r.num);
        assert!(v.iter().all(|x| x.is_finite()));
    }
    if let Ok(sh) = s.parse::<Shard>() {
        assert!(sh.index < sh.count);
    }
    let _ = s.parse::<Norm>();
    let _ = s.parse::<Ignore>();
    let _ = s.parse::<DirType>();
});
