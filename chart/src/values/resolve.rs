//! The full values tree of a chart for rendering, computed as Helm v3 does for `helm template` and
//! `helm install` (`ProcessDependenciesWithMerge`, then `CoalesceValues`), step for step, because
//! charts depend on its corners (which `null` deletes what, which globals win):
//!
//! 1. subcharts named in `dependencies:` are matched to the loaded ones by name and version
//!    constraint (a dependency without a version matches nothing, as in Helm, so its alias is not
//!    applied) and renamed to their alias; loaded subcharts not listed stay as they are;
//! 2. `tags:` then `condition:` switch listed subcharts on or off (conditions, read at the chart's
//!    own path in the values, win over tags), and disabled ones are removed, level by level;
//! 3. every chart with dependencies gets its defaults merged with its subcharts' (nulls kept) and
//!    `import-values` copied in (children first; the parent's own values win);
//! 4. the user's values are laid over the chart defaults, each subchart's defaults filling its
//!    section (named by alias), with `global` copied down to every subchart (parent globals win)
//!    and `null` deleting a default;
//! 5. every chart's `values.schema.json` is checked against its part of the result.

use super::{Values, ValuesError};
use crate::model::{Chart, Dependency};
use crate::version::constraint_matches;
use serde_json::Value;

/// The key whose table is shared with every subchart.
pub const GLOBAL_KEY: &str = "global";

/// Resolves the values for rendering `chart` with the user's values files and `--set` layers
/// (`user`, lowest priority first). Returns the chart as it will render (disabled subcharts
/// removed, aliased ones renamed) and the full values tree.
pub fn resolve(chart: &Chart, user: &[Values]) -> Result<(Chart, Values), ValuesError> {
    let user_values = combine_user_layers(user);
    let mut chart = chart.clone();
    enable_dependencies(&mut chart, &user_values, "")?;
    import_values(&mut chart)?;
    let values = coalesce(&chart, user_values, Mode::Coalesce)?;
    let violations = crate::schema::validate_tree(&chart, &values)?;
    if !violations.is_empty() {
        return Err(ValuesError::Schema { violations });
    }
    Ok((chart, values))
}

/// The user's values layers (`-f` files, then `--set`), lowest priority first, as one layer:
/// maps merge, other values replace, and `null`s are kept so that they still delete the chart
/// defaults they name when the result is laid over the chart. This is what `capstan write
/// deployment` puts in `spec.values`, so the operator renders exactly what `capstan template`
/// renders with the same flags.
pub fn combine_user_layers(user: &[Values]) -> Values {
    let mut combined = Values::new();
    for layer in user {
        overlay_keeping_nulls(&mut combined, layer.clone());
    }
    combined
}

/// Lays `overlay` over `base` like Helm's merge of `-f` files: maps merge, other values replace,
/// and `null`s are kept so that coalescing can delete the defaults they name.
fn overlay_keeping_nulls(base: &mut Values, overlay: Values) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(base_map)), Value::Object(overlay_map)) => {
                overlay_keeping_nulls(base_map, overlay_map);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Helm's two ways of laying defaults under given values: `CoalesceValues`, where a `null` given
/// for a key deletes its default, and `MergeValues`, where nulls stay (used while preparing
/// subchart defaults, so that a parent's `null` still deletes the subchart's default later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Coalesce,
    Merge,
}

/// Helm's `coalesce`: the chart's defaults under `dest` (the values given for this chart), then
/// each subchart's defaults under its section, with the globals copied down.
fn coalesce(chart: &Chart, mut dest: Values, mode: Mode) -> Result<Values, ValuesError> {
    coalesce_values(chart, &mut dest, mode);
    for subchart in &chart.dependencies {
        let name = subchart.name();
        let mut section = match dest.remove(name) {
            None => Values::new(),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(ValuesError::NotATable {
                    chart: chart.name().to_string(),
                    key: name.to_string(),
                    found: super::kind_of(&other),
                });
            }
        };
        copy_globals(&dest, &mut section);
        let resolved = coalesce(subchart, section, mode)?;
        dest.insert(name.to_string(), Value::Object(resolved));
    }
    Ok(dest)
}

/// Helm's `coalesceValues`: each default of the chart fills `dest` where it has no value; a
/// `null` given for a default deletes it (when coalescing); maps given over map defaults are
/// filled key by key (keeping nulls when the key names a subchart, whose own coalescing deletes
/// them later).
fn coalesce_values(chart: &Chart, dest: &mut Values, mode: Mode) {
    for (key, default) in &chart.values {
        match dest.get_mut(key) {
            None => {
                dest.insert(key.clone(), default.clone());
            }
            Some(Value::Null) if mode == Mode::Coalesce => {
                dest.remove(key);
            }
            Some(Value::Object(given)) => {
                if let Value::Object(default_map) = default {
                    let names_subchart = chart.dependencies.iter().any(|sub| sub.name() == key);
                    let mode = if names_subchart { Mode::Merge } else { mode };
                    coalesce_tables(given, default_map.clone(), mode);
                }
            }
            Some(_) => {}
        }
    }
}

/// Helm's `coalesceTablesFullKey`: `src` fills `dst` (which wins). When coalescing, a `null` in
/// `dst` deletes a non-null default and stays otherwise; when merging, nulls stay.
fn coalesce_tables(dst: &mut Values, mut src: Values, mode: Mode) {
    let src_non_null: Vec<String> = src
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, _)| key.clone())
        .collect();
    for (key, value) in dst.iter() {
        if value.is_null() {
            src.insert(key.clone(), Value::Null);
        }
    }
    for (key, value) in src {
        match dst.get_mut(&key) {
            Some(Value::Null) if mode == Mode::Coalesce && src_non_null.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, value);
            }
            Some(Value::Object(dst_map)) => {
                if let Value::Object(src_map) = value {
                    coalesce_tables(dst_map, src_map, mode);
                }
            }
            Some(_) => {}
        }
    }
}

/// Helm's `coalesceGlobals`: the parent's `global` table into a subchart's section. The parent's
/// entries win; a parent map is filled with the subchart's map of the same key; a map never
/// replaces a scalar or the reverse. Every subchart section gets a `global` map.
fn copy_globals(parent: &Values, section: &mut Values) {
    let mut child_globals = match section.get(GLOBAL_KEY) {
        None => Values::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return,
    };
    let parent_globals = match parent.get(GLOBAL_KEY) {
        None => Values::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return,
    };
    for (key, value) in parent_globals {
        match (value, child_globals.get(&key)) {
            (Value::Object(parent_map), None) => {
                child_globals.insert(key, Value::Object(parent_map));
            }
            (Value::Object(mut parent_map), Some(Value::Object(child_map))) => {
                coalesce_tables(&mut parent_map, child_map.clone(), Mode::Merge);
                child_globals.insert(key, Value::Object(parent_map));
            }
            (Value::Object(_), Some(_)) | (_, Some(Value::Object(_))) => {}
            (value, _) => {
                child_globals.insert(key, value);
            }
        }
    }
    section.insert(GLOBAL_KEY.to_string(), Value::Object(child_globals));
}

/// Helm's `processDependencyEnabled` for one chart and, recursively, its enabled subcharts.
/// `parent_values` is the tree conditions are read from; `path` is this chart's place in it.
fn enable_dependencies(
    chart: &mut Chart,
    parent_values: &Values,
    path: &str,
) -> Result<(), ValuesError> {
    if chart.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let loaded = std::mem::take(&mut chart.dependencies);
    let mut kept: Vec<Chart> = loaded
        .iter()
        .filter(|sub| {
            !chart
                .metadata
                .dependencies
                .iter()
                .any(|dep| dep.name == sub.name() && version_fits(dep, sub))
        })
        .cloned()
        .collect();
    for dependency in &mut chart.metadata.dependencies {
        if let Some(found) = loaded
            .iter()
            .find(|sub| sub.name() == dependency.name && version_fits(dependency, sub))
        {
            let mut found = found.clone();
            if let Some(alias) = dependency.alias.as_ref().filter(|a| !a.is_empty()) {
                found.metadata.name = alias.clone();
            }
            kept.push(found);
        }
        if let Some(alias) = dependency.alias.as_ref().filter(|a| !a.is_empty()) {
            dependency.name = alias.clone();
        }
        dependency.enabled = Some(true);
    }
    chart.dependencies = kept;

    let values = coalesce(chart, parent_values.clone(), Mode::Coalesce)?;
    apply_tags(&mut chart.metadata.dependencies, &values);
    apply_conditions(&mut chart.metadata.dependencies, &values, path);
    let disabled: Vec<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|dep| dep.enabled == Some(false))
        .map(|dep| dep.name.clone())
        .collect();
    chart
        .dependencies
        .retain(|sub| !disabled.iter().any(|name| name == sub.name()));
    chart
        .metadata
        .dependencies
        .retain(|dep| !disabled.contains(&dep.name));
    for sub in &mut chart.dependencies {
        let sub_path = format!("{path}{}.", sub.name());
        enable_dependencies(sub, &values, &sub_path)?;
    }
    Ok(())
}

/// Helm's `IsCompatibleRange(dependency.version, subchart.version)`: a missing or empty
/// constraint is not a valid constraint, so it matches nothing.
fn version_fits(dependency: &Dependency, subchart: &Chart) -> bool {
    match dependency.version.as_deref() {
        None => false,
        Some(constraint) => {
            constraint_matches(constraint, &subchart.metadata.version).unwrap_or(false)
        }
    }
}

/// `tags:`: a dependency with a true tag is on; with only false tags it is off; otherwise on.
fn apply_tags(dependencies: &mut [Dependency], values: &Values) {
    let Some(Value::Object(tags)) = values.get("tags") else {
        return;
    };
    for dependency in dependencies {
        let states: Vec<bool> = dependency
            .tags
            .iter()
            .filter_map(|tag| tags.get(tag).and_then(Value::as_bool))
            .collect();
        dependency.enabled = Some(states.contains(&true) || states.is_empty());
    }
}

/// `condition: a.enabled,b.enabled`: the first path that holds a boolean decides.
fn apply_conditions(dependencies: &mut [Dependency], values: &Values, path: &str) {
    for dependency in dependencies {
        let Some(condition) = &dependency.condition else {
            continue;
        };
        for candidate in condition.trim().split(',') {
            if candidate.is_empty() {
                continue;
            }
            if let Some(Value::Bool(enabled)) = path_value(values, &format!("{path}{candidate}")) {
                dependency.enabled = Some(*enabled);
                break;
            }
        }
    }
}

/// Helm's `Values.PathValue`: the value at a dotted path, unless it is a table.
fn path_value<'v>(values: &'v Values, dotted: &str) -> Option<&'v Value> {
    let (tables, last) = match dotted.rsplit_once('.') {
        Some((tables, last)) => (Some(tables), last),
        None => (None, dotted),
    };
    let table = match tables {
        Some(tables) => table_at(values, tables)?,
        None => values,
    };
    table.get(last).filter(|value| !value.is_object())
}

/// Helm's `Values.Table`: the map at a dotted path.
fn table_at<'v>(values: &'v Values, dotted: &str) -> Option<&'v Values> {
    let mut current = values;
    for part in dotted.split('.') {
        current = current.get(part)?.as_object()?;
    }
    Some(current)
}

/// Helm's `processDependencyImportValues` with merging: children first, then every chart that
/// has dependencies gets its defaults merged with its subcharts' and its `import-values` copied
/// in.
fn import_values(chart: &mut Chart) -> Result<(), ValuesError> {
    for sub in &mut chart.dependencies {
        import_values(sub)?;
    }
    if chart.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let defaults = coalesce(chart, Values::new(), Mode::Merge)?;
    let mut imported = Values::new();
    for dependency in &chart.metadata.dependencies {
        for import in &dependency.import_values {
            let (child, parent) = match import {
                Value::String(name) => (format!("exports.{name}"), ".".to_string()),
                Value::Object(map) => {
                    let field = |name: &str| match map.get(name) {
                        Some(Value::String(text)) => Ok(text.clone()),
                        _ => Err(ValuesError::ImportValues {
                            chart: chart.name().to_string(),
                            dependency: dependency.name.clone(),
                            reason: format!("a map entry needs a string `{name}`"),
                        }),
                    };
                    (field("child")?, field("parent")?)
                }
                other => {
                    return Err(ValuesError::ImportValues {
                        chart: chart.name().to_string(),
                        dependency: dependency.name.clone(),
                        reason: format!(
                            "entries are strings or {{child, parent}} maps, not {}",
                            super::kind_of(other)
                        ),
                    });
                }
            };
            // Helm skips (with a warning) imports whose child is missing or not a table.
            let Some(table) = table_at(&defaults, &format!("{}.{child}", dependency.name)) else {
                continue;
            };
            coalesce_tables(
                &mut imported,
                nest_under(&parent, table.clone()),
                Mode::Merge,
            );
        }
    }
    let mut values = defaults;
    coalesce_tables(&mut values, imported, Mode::Merge);
    chart.values = values;
    Ok(())
}

/// `{a: {b: table}}` for the path `a.b`; the table itself for `.`.
fn nest_under(path: &str, table: Values) -> Values {
    if path == "." {
        return table;
    }
    path.rsplit('.').fold(table, |inner, key| {
        let mut outer = Values::new();
        outer.insert(key.to_string(), Value::Object(inner));
        outer
    })
}
