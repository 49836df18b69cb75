//! Deciding whether a chart's templates are Jinja, which is the only engine Capstan renders.
//!
//! A chart names its engine in `annotations["capstan.dev/engine"]`. When the annotation is
//! missing, the templates are scanned for Go template syntax: a chart that has it is a Helm chart,
//! and rendering it as Jinja would produce garbage or confusing errors, so it is refused with the
//! first place the syntax was seen. A chart without the annotation and without Go syntax is
//! rendered as Jinja: many simple charts are valid in both, and asking every chart for an
//! annotation would only add friction.

use super::RenderError;
use crate::model::{Chart, ENGINE_ANNOTATION, ENGINE_JINJA};

/// Markers that only occur in Go templates. Jinja writes `values.x`, never `.Values.x`, and has no
/// `include`/`template`/`define` actions inside `{{ }}`.
const GO_TEMPLATE_MARKERS: &[&str] = &[
    "{{ .",
    "{{- .",
    "{{.",
    "{{ $",
    "{{- $",
    "{{- include ",
    "{{ include ",
    "{{ template ",
    "{{- template ",
    "{{ define ",
    "{{- define ",
    "{{ end }}",
    "{{- end }}",
    "{{- end -}}",
    ".Release.",
    ".Values.",
    ".Chart.",
];

/// Checks that `chart` (one chart, not its subcharts) is to be rendered as Jinja.
pub(crate) fn ensure_jinja(chart: &Chart, chart_path: &str) -> Result<(), RenderError> {
    match chart.metadata.annotations.get(ENGINE_ANNOTATION) {
        Some(engine) if engine == ENGINE_JINJA => Ok(()),
        Some(engine) => Err(RenderError::UnsupportedEngine {
            chart: chart_path.to_string(),
            engine: engine.clone(),
        }),
        None => match find_go_template_syntax(chart) {
            Some((file, line, marker)) => Err(RenderError::HelmChart {
                file: format!("{chart_path}/{file}"),
                line,
                marker: marker.to_string(),
            }),
            None => Ok(()),
        },
    }
}

/// The first template file, 1-based line and marker where Go template syntax appears.
fn find_go_template_syntax(chart: &Chart) -> Option<(&str, usize, &'static str)> {
    chart.templates.iter().find_map(|file| {
        let text = String::from_utf8_lossy(&file.data);
        text.lines().enumerate().find_map(|(index, line)| {
            GO_TEMPLATE_MARKERS
                .iter()
                .find(|marker| line.contains(*marker))
                .map(|marker| (file.path.as_str(), index + 1, *marker))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChartFile;

    fn chart_with(template: &str, engine: Option<&str>) -> Chart {
        let mut chart = Chart::default();
        chart.metadata.name = "demo".into();
        if let Some(engine) = engine {
            chart
                .metadata
                .annotations
                .insert(ENGINE_ANNOTATION.into(), engine.into());
        }
        chart.templates.push(ChartFile {
            path: "templates/cm.yaml".into(),
            data: template.as_bytes().to_vec(),
        });
        chart
    }

    #[test]
    fn refuses_helm_templates_naming_file_and_line() {
        let chart = chart_with("kind: ConfigMap\nname: {{ .Release.Name }}\n", None);
        let err = ensure_jinja(&chart, "demo").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("demo/templates/cm.yaml:2"), "{message}");
        assert!(message.contains("capstan.dev/engine"), "{message}");
    }

    #[test]
    fn unannotated_jinja_and_annotated_charts_render() {
        let plain = chart_with("name: {{ release.name }}\n", None);
        assert!(ensure_jinja(&plain, "demo").is_ok());
        let annotated = chart_with("name: {{ .Release.Name }}\n", Some("jinja"));
        assert!(ensure_jinja(&annotated, "demo").is_ok());
        let other = chart_with("x", Some("gotemplate"));
        assert!(matches!(
            ensure_jinja(&other, "demo"),
            Err(RenderError::UnsupportedEngine { .. })
        ));
    }
}
