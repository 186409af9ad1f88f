//! Helpers shared by keel integration tests.
