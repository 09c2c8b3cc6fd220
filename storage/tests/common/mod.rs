//! Helpers shared by the storage integration tests.

#![allow(dead_code)]

pub mod read;
pub mod s3;
