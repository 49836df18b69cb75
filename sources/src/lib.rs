//! Where Capstan's charts come from, shared by the `capstan` CLI and the operator: a bounded HTTP
//! client for chart repositories, an OCI registry client that stores charts as `helm push` does,
//! presigned S3 requests for repositories in buckets, and the compact catalogue of a repository
//! index that the operator keeps in memory.
//!
//! The chart format itself (loading, rendering, packaging, provenance, index files) lives in
//! `capstan-chart`, which has no network or async runtime in its dependency tree; everything that
//! talks to a server lives here.

pub mod catalogue;
pub mod http;
pub mod oci;
pub mod s3;
