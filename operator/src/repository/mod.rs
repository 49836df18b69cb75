//! The ChartRepository controller: fetches each repository's index once per interval into the
//! shared [`IndexCache`](crate::repository::index_cache::IndexCache) and reports it in status. A new index
//! wakes the ChartDeployments of the repository as it enters the cache
//! ([`IndexCache::arrivals`](crate::repository::index_cache::IndexCache::arrivals)); a status write that
//! changes the repository's conditions or spec wakes them through their watch of it (see
//! [`seen_by_deployments`]), and one that only records another fetch wakes none of them.
//!
//! Steps, by module: [`controller`] (the watch and the reconcile), [`fetch_index`] (the
//! conditional download over HTTP or from an S3 bucket, see [`s3`]), [`index_cache`] (what the
//! deployments read), [`fetch_schedule`] (when the next fetch is due), [`registry`] (`oci://`
//! repositories, which have no index) and [`status`] (the status computed from a fetch).

pub mod controller;
pub mod fetch_index;
pub mod fetch_schedule;
pub mod index_cache;
pub mod registry;
pub mod s3;
pub mod status;
