//! The full values tree of a chart for rendering, computed as Helm does (ProcessDependencies,
//! then CoalesceValues):
//!
//! 1. subcharts named in `dependencies:` are matched to the loaded ones by name and version
//!    constraint and renamed to their alias; loaded subcharts not listed stay as they are;
//! 2. `tags:` then `condition:` switch listed subcharts on or off (conditions, read at the chart's
//!    own path in the values, win over tags), and disabled ones are removed, level by level;
//! 3. `import-values` copy tables from subcharts into their parent's defaults (children first;
//!    the parent's own values win);
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
    let values = coalesce(&chart, user_values)?;
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

/// Fills `dest` (higher priority) with `defaults`: keys missing from `dest` are copied, maps present
/// in both merge, and a `null` in `dest` deletes the default.
fn coalesce_tables(dest: &mut Values, defaults: &Values) {
    for (key, default) in defaults {
        match dest.get_mut(key) {
            None => {
                dest.insert(key.clone(), default.clone());
            }
            Some(Value::Null) => {
                dest.remove(key);
            }
            Some(Value::Object(dest_map)) => {
                if let Value::Object(default_map) = default {
                    coalesce_tables(dest_map, default_map);
                }
            }
            Some(_) => {}
        }
    }
}

/// Helm's CoalesceValues: `dest` holds the values given for this chart (user values, or the
/// parent's section for a subchart); the chart's defaults fill it, then each subchart's section.
fn coalesce(chart: &Chart, mut dest: Values) -> Result<Values, ValuesError> {
    coalesce_tables(&mut dest, &chart.values);
    for subchart in &chart.dependencies {
        let name = subchart.name();
        let section = match dest.remove(name) {
            None | Some(Value::Null) => Values::new(),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(ValuesError::NotATable {
                    chart: chart.name().to_string(),
                    key: name.to_string(),
                    found: super::kind_of(&other),
                });
            }
        };
        let mut section = section;
        copy_globals(&dest, &mut section);
        let resolved = coalesce(subchart, section)?;
        dest.insert(name.to_string(), Value::Object(resolved));
    }
    Ok(dest)
}

/// Copies the parent's `global` table into a subchart's section: the parent's entries win, maps
/// are merged with the subchart's own, and a map never replaces a scalar or the reverse.
/// Like Helm, every subchart section gets a `global` map, empty if nobody defines one.
fn copy_globals(parent: &Values, section: &mut Values) {
    let child_globals = section
        .entry(GLOBAL_KEY)
        .or_insert_with(|| Value::Object(Values::new()));
    let (Some(Value::Object(parent_globals)), Value::Object(child_globals)) =
        (parent.get(GLOBAL_KEY), child_globals)
    else {
        return;
    };
    for (key, value) in parent_globals {
        match (value, child_globals.get(key)) {
            (Value::Object(parent_map), Some(Value::Object(child_map))) => {
                let mut merged = parent_map.clone();
                coalesce_tables(&mut merged, child_map);
                child_globals.insert(key.clone(), Value::Object(merged));
            }
            (Value::Object(_), Some(_)) | (_, Some(Value::Object(_))) => {}
            (value, _) => {
                child_globals.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Helm's processDependencyEnabled for one chart and, recursively, its enabled subcharts.
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
            if let Some(alias) = &dependency.alias {
                found.metadata.name = alias.clone();
            }
            kept.push(found);
        }
        if let Some(alias) = dependency.alias.take() {
            dependency.name = alias;
        }
        dependency.enabled = Some(true);
    }
    chart.dependencies = kept;

    let values = coalesce(chart, parent_values.clone())?;
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
        .retain(|dep| dep.enabled != Some(false));
    for sub in &mut chart.dependencies {
        let sub_path = format!("{path}{}.", sub.name());
        enable_dependencies(sub, &values, &sub_path)?;
    }
    Ok(())
}

/// Whether a loaded subchart satisfies the dependency's version constraint (none means any).
fn version_fits(dependency: &Dependency, subchart: &Chart) -> bool {
    match dependency.version.as_deref().map(str::trim) {
        None | Some("") => true,
        Some(constraint) => {
            constraint_matches(constraint, &subchart.metadata.version).unwrap_or(false)
        }
    }
}

/// `tags:`: a dependency with a true tag is on; with only false tags it is off.
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
        if states.contains(&true) {
            dependency.enabled = Some(true);
        } else if !states.is_empty() {
            dependency.enabled = Some(false);
        }
    }
}

/// `condition: a.enabled,b.enabled`: the first path that holds a boolean decides.
fn apply_conditions(dependencies: &mut [Dependency], values: &Values, path: &str) {
    for dependency in dependencies {
        let Some(condition) = &dependency.condition else {
            continue;
        };
        for candidate in condition.trim().split(',').map(str::trim) {
            if candidate.is_empty() {
                continue;
            }
            if let Some(Value::Bool(enabled)) = lookup(values, &format!("{path}{candidate}")) {
                dependency.enabled = Some(*enabled);
                break;
            }
        }
    }
}

/// The value at a dotted path.
fn lookup<'v>(values: &'v Values, dotted: &str) -> Option<&'v Value> {
    let mut parts = dotted.split('.');
    let mut current = values.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Helm's processDependencyImportValues: children first, then this chart's `import-values`.
fn import_values(chart: &mut Chart) -> Result<(), ValuesError> {
    for sub in &mut chart.dependencies {
        import_values(sub)?;
    }
    if chart.metadata.dependencies.is_empty()
        || chart
            .metadata
            .dependencies
            .iter()
            .all(|dep| dep.import_values.is_empty())
    {
        return Ok(());
    }
    let defaults = coalesce(chart, Values::new())?;
    let mut imported = Values::new();
    for dependency in &chart.metadata.dependencies {
        for import in &dependency.import_values {
            let (child, parent) = match import {
                Value::String(name) => (format!("exports.{name}"), String::new()),
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
            let Some(Value::Object(table)) =
                lookup(&defaults, &format!("{}.{child}", dependency.name))
            else {
                continue;
            };
            let nested = nest_under(&parent, table.clone());
            overlay_keeping_nulls(&mut imported, nested);
        }
    }
    let mut values = defaults;
    coalesce_tables(&mut values, &imported);
    chart.values = values;
    Ok(())
}

/// `{a: {b: table}}` for the path `a.b`; the table itself for an empty path or `.`.
fn nest_under(path: &str, table: Values) -> Values {
    if path.is_empty() || path == "." {
        return table;
    }
    path.rsplit('.').fold(table, |inner, key| {
        let mut outer = Values::new();
        outer.insert(key.to_string(), Value::Object(inner));
        outer
    })
}
