//! Fake Jenkins.
