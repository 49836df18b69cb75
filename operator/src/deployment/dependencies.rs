//! `spec.dependsOn`: other ChartDeployments that must be Ready before this one is applied.
//! Waiting names them; a cycle is reported as one.

use std::collections::HashSet;

use capstan_api::ChartDeployment;
use capstan_api::deployment::DependencyReference;
use kube::Api;
use kube::core::DeserializeGuard;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_key::ObjectKey;

/// How far a dependency chain is followed looking for a cycle.
const MAX_CHAIN: usize = 32;

/// Checks that every dependency of `deployment` is Ready for its current generation.
pub async fn check(deployment: &ChartDeployment, ctx: &Context) -> Result<()> {
    if deployment.spec.depends_on.is_empty() {
        return Ok(());
    }
    let own = ObjectKey::of(deployment);
    let mut waiting = Vec::new();
    for reference in &deployment.spec.depends_on {
        let key = key_of(reference, &own, ctx.settings.no_cross_namespace_refs)?;
        match get(ctx, &key).await? {
            None => waiting.push(format!("ChartDeployment {key} (not found)")),
            Some(dependency) => {
                if let Some(state) = not_ready(&dependency) {
                    waiting.push(format!("ChartDeployment {key} ({state})"));
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(ctx, deployment).await? {
        return Err(Error::DependencyCycle(cycle));
    }
    if waiting.is_empty() {
        Ok(())
    } else {
        Err(Error::DependencyNotReady(waiting.join(", ")))
    }
}

/// The dependency `reference` of the deployment `own` names.
fn key_of(
    reference: &DependencyReference,
    own: &ObjectKey,
    no_cross_namespace_refs: bool,
) -> Result<ObjectKey> {
    let namespace = reference
        .namespace
        .clone()
        .unwrap_or_else(|| own.namespace.clone());
    if namespace != own.namespace && no_cross_namespace_refs {
        return Err(Error::InvalidSpec(format!(
            "spec.dependsOn {namespace}/{}: this operator runs with --no-cross-namespace-refs, so \
             dependencies must be in the namespace {}",
            reference.name, own.namespace
        )));
    }
    Ok(ObjectKey::new(namespace, reference.name.clone()))
}

/// Why `dependency` does not count as Ready, or `None` when it does.
fn not_ready(dependency: &ChartDeployment) -> Option<String> {
    let status = dependency.status.as_ref()?;
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == capstan_api::common::READY);
    match ready {
        Some(ready) if ready.status == "True" => (status.observed_generation
            != dependency.metadata.generation)
            .then(|| "its latest spec is not applied yet".to_string()),
        Some(ready) => Some(format!("Ready={}: {}", ready.status, ready.reason)),
        None => Some("not reconciled yet".to_string()),
    }
}

async fn get(ctx: &Context, key: &ObjectKey) -> Result<Option<ChartDeployment>> {
    let found =
        Api::<DeserializeGuard<ChartDeployment>>::namespaced(ctx.client.clone(), &key.namespace)
            .get_opt(&key.name)
            .await
            .map_err(Error::kube(format!("reading ChartDeployment {key}")))?;
    Ok(found.and_then(|guard| guard.0.ok()))
}

/// A chain of dependencies that leads back to `deployment`, as `a -> b -> a`.
async fn find_cycle(ctx: &Context, deployment: &ChartDeployment) -> Result<Option<String>> {
    let start = ObjectKey::of(deployment);
    let mut stack: Vec<(ObjectKey, Vec<ObjectKey>)> = vec![(start.clone(), vec![start.clone()])];
    let mut seen = HashSet::new();
    while let Some((key, path)) = stack.pop() {
        if seen.len() >= MAX_CHAIN || !seen.insert(key.clone()) {
            continue;
        }
        let references = if key == start {
            deployment.spec.depends_on.clone()
        } else {
            match get(ctx, &key).await? {
                Some(found) => found.spec.depends_on,
                None => continue,
            }
        };
        for reference in &references {
            let next = ObjectKey::new(
                reference
                    .namespace
                    .clone()
                    .unwrap_or_else(|| key.namespace.clone()),
                reference.name.clone(),
            );
            let mut chain = path.clone();
            chain.push(next.clone());
            if next == start {
                return Ok(Some(
                    chain
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" -> "),
                ));
            }
            stack.push((next, chain));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dependency(ready: &str, generation: i64, observed: i64) -> ChartDeployment {
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "db", "namespace": "apps", "generation": generation},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
            "status": {"observedGeneration": observed, "conditions": [{
                "type": "Ready", "status": ready, "reason": "Progressing", "message": "",
                "lastTransitionTime": "2026-12-06T10:00:00Z"}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_dependency_counts_when_ready_for_its_current_spec() {
        assert_eq!(not_ready(&dependency("True", 2, 2)), None);
        assert!(not_ready(&dependency("True", 3, 2)).is_some());
        assert_eq!(
            not_ready(&dependency("Unknown", 2, 2)).as_deref(),
            Some("Ready=Unknown: Progressing")
        );
    }

    #[test]
    fn cross_namespace_dependencies_follow_the_lockdown_flag() {
        let own = ObjectKey::new("apps", "web");
        let elsewhere = DependencyReference {
            name: "db".into(),
            namespace: Some("data".into()),
        };
        assert_eq!(
            key_of(&elsewhere, &own, false).unwrap(),
            ObjectKey::new("data", "db")
        );
        assert!(key_of(&elsewhere, &own, true).is_err());
        let local = DependencyReference {
            name: "db".into(),
            namespace: None,
        };
        assert_eq!(
            key_of(&local, &own, true).unwrap(),
            ObjectKey::new("apps", "db")
        );
    }
}
