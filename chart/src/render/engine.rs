//! Choosing the template engine of a chart.
//!
//! A chart names its engine in `annotations["capstan.dev/engine"]`: `jinja` for Capstan's Jinja
//! templates, `go` for Helm's Go templates. Without the annotation a chart is a Helm chart, as it
//! is for Helm itself, so unmodified Helm charts render as `helm template` renders them. A chart
//! and its subcharts render as one template set, so they must agree on the engine.

use super::RenderError;
use crate::model::{Chart, Engine};

/// The engine of `chart`, checked to be the engine of every subchart too.
pub fn chart_engine(chart: &Chart) -> Result<Engine, RenderError> {
    let engine = engine_of(chart, chart.name())?;
    check_subcharts(chart, chart.name(), engine)?;
    Ok(engine)
}

fn engine_of(chart: &Chart, path: &str) -> Result<Engine, RenderError> {
    chart
        .metadata
        .engine()
        .map_err(|engine| RenderError::UnsupportedEngine {
            chart: path.to_string(),
            engine: engine.to_string(),
        })
}

fn check_subcharts(chart: &Chart, path: &str, engine: Engine) -> Result<(), RenderError> {
    for sub in &chart.dependencies {
        let sub_path = format!("{path}/charts/{}", sub.name());
        let sub_engine = engine_of(sub, &sub_path)?;
        if sub_engine != engine {
            return Err(RenderError::MixedEngines {
                chart: sub_path,
                engine: sub_engine.annotation_value().to_string(),
                parent: path.to_string(),
                parent_engine: engine.annotation_value().to_string(),
            });
        }
        check_subcharts(sub, &sub_path, engine)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ENGINE_ANNOTATION;

    fn chart_with(name: &str, engine: Option<&str>) -> Chart {
        let mut chart = Chart::default();
        chart.metadata.name = name.into();
        if let Some(engine) = engine {
            chart
                .metadata
                .annotations
                .insert(ENGINE_ANNOTATION.into(), engine.into());
        }
        chart
    }

    #[test]
    fn the_annotation_chooses_and_go_is_the_default() {
        assert_eq!(chart_engine(&chart_with("a", None)).unwrap(), Engine::Go);
        assert_eq!(
            chart_engine(&chart_with("a", Some("jinja"))).unwrap(),
            Engine::Jinja
        );
        assert_eq!(
            chart_engine(&chart_with("a", Some("go"))).unwrap(),
            Engine::Go
        );
        let err = chart_engine(&chart_with("a", Some("mustache"))).unwrap_err();
        assert!(
            matches!(err, RenderError::UnsupportedEngine { .. }),
            "{err}"
        );
    }

    #[test]
    fn subcharts_must_use_the_parents_engine() {
        let mut parent = chart_with("app", Some("jinja"));
        parent.dependencies.push(chart_with("db", None));
        let err = chart_engine(&parent).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("app/charts/db"), "{message}");
        assert!(message.contains("go"), "{message}");
        parent.dependencies[0] = chart_with("db", Some("jinja"));
        assert_eq!(chart_engine(&parent).unwrap(), Engine::Jinja);
    }
}
