//! Labels and annotations the operator puts on, and reads from, the objects it applies.

/// Label on every applied object naming its owner as `<namespace>.<name>` of the
/// ChartDeployment. Labels have a 63 character limit, so long names are shortened with a hash
/// (see the operator's `apply` module); the annotation below always holds the full value.
pub const DEPLOYMENT_LABEL: &str = "capstan.dev/deployment";
/// Annotation on every applied object with the full `<namespace>/<name>` of its ChartDeployment;
/// this is what ownership decisions read.
pub const DEPLOYMENT_ANNOTATION: &str = "capstan.dev/deployment";
/// Annotation that keeps an object when it is dropped from a chart or its ChartDeployment is
/// deleted.
pub const KEEP_ANNOTATION: &str = "capstan.dev/keep";
/// Helm's equivalent of [`KEEP_ANNOTATION`] (`helm.sh/resource-policy: keep`), honoured so that
/// charts written for Helm keep their promise.
pub const HELM_RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";
/// Server-side apply field manager and event reporter of the operator.
pub const FIELD_MANAGER: &str = "capstan";
/// Finalizer that removes a ChartDeployment's objects before the resource goes away.
pub const FINALIZER: &str = "capstan.dev/cleanup";
