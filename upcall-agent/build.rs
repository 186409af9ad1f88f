// The link arguments of every static no-libc binary of keel: one copy, in
// init's build script.
include!("../init/build.rs");
