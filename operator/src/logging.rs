//! JSON log lines (`--log-format json`) for log collectors: one object a line whose top-level
//! keys are the event's fields and the fields of every span it happened in.
//!
//! tracing-subscriber's own JSON format nests span fields under `span`/`spans`, next to the span's
//! `name`; a reconcile span whose fields are the object's `namespace` and `name` would then clash
//! with it. Here the fields are flattened instead: a line logged while reconciling reads
//! `{"timestamp":…,"level":"INFO","target":…,"kind":"ChartDeployment","namespace":"shop",
//! "name":"web","revision":3,"message":"applied",…}`, so a collector can filter on the object
//! without parsing messages. Inner spans override outer ones, and the event's own fields override
//! both.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::object_key::KindKey;

/// The span every line logged while reconciling `object` is in: its kind, namespace and name,
/// and its `revision` (the release number applied so far, when it has one). Inner code may
/// record a newer `revision` on it.
pub fn reconcile_span(object: &KindKey, revision: Option<i64>) -> tracing::Span {
    tracing::info_span!(
        "reconcile",
        kind = object.kind,
        namespace = %object.key.namespace,
        name = %object.key.name,
        revision = revision,
    )
}

/// A layer writing each event as one JSON object a line to `writer`.
pub struct JsonLines<W> {
    writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(writer: W) -> Self {
        JsonLines { writer }
    }
}

/// The fields recorded on a span so far, kept in the span's extensions.
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON values: numbers and booleans as such, everything else as text.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_string(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string().into());
    }

    /// `%value` (Display) and `?value` (Debug) fields both arrive here, already formatted.
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attributes.record(&mut JsonVisitor(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            k8s_openapi::jiff::Timestamp::now().to_string().into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.clone());
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        let Ok(mut text) = serde_json::to_vec(&line) else {
            return;
        };
        text.push(b'\n');
        // One write per line, so lines from several threads never interleave. A log that cannot
        // be written has nowhere to report that.
        let _ = self.writer.make_writer().write_all(&text);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Collects what is written, for the test to read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(buffer: &Buffer) -> Vec<Value> {
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn span_fields_are_top_level_keys_of_each_line() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("reconciling object", object.reason = "object updated");
            let _outer = outer.enter();
            let reconcile = tracing::info_span!(
                "reconcile",
                kind = "ChartDeployment",
                namespace = "shop",
                name = "web",
                revision = tracing::field::Empty,
            );
            let _reconcile = reconcile.enter();
            reconcile.record("revision", 3);
            tracing::warn!(error = %"no route", retry = true, "fetching failed");
        });
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "fetching failed");
        assert_eq!(line["kind"], "ChartDeployment");
        assert_eq!(line["namespace"], "shop");
        assert_eq!(line["name"], "web");
        assert_eq!(line["revision"], 3);
        assert_eq!(line["object.reason"], "object updated");
        assert_eq!(line["error"], "no route");
        assert_eq!(line["retry"], true);
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.parse::<k8s_openapi::jiff::Timestamp>().is_ok(),
            "{timestamp}"
        );
    }

    #[test]
    fn the_event_wins_over_its_spans_and_inner_spans_over_outer_ones() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", name = "outer", depth = 1);
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", depth = 2);
            let _inner = inner.enter();
            tracing::info!(name = "event", "one");
            tracing::info!("two");
        });
        let lines = lines(&buffer);
        assert_eq!(lines[0]["name"], "event");
        assert_eq!(lines[0]["depth"], 2);
        assert_eq!(lines[1]["name"], "outer");
        assert_eq!(lines[1]["message"], "two");
    }
}
