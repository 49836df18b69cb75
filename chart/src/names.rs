//! Naming rules shared by `capstan create` and the linter, so both accept exactly the same names.

/// Helm's upper bound for a chart name.
pub const MAX_CHART_NAME_LEN: usize = 250;
/// Kubernetes' bound for a DNS-1123 label (Service names, label values and most object names in practice).
pub const MAX_DNS_LABEL_LEN: usize = 63;
/// Kubernetes' bound for a DNS-1123 subdomain (most object names).
pub const MAX_DNS_SUBDOMAIN_LEN: usize = 253;

/// Checks a chart name against Helm's convention: lowercase letters, digits and dashes, starting
/// and ending with a letter or digit. Returns why a name is refused.
pub fn check_chart_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    check_length(name, MAX_CHART_NAME_LEN)?;
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("{bad:?} is not allowed"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("the name starts or ends with a dash".into());
    }
    Ok(())
}

/// Checks a DNS-1123 label: at most 63 lowercase alphanumerics or dashes, alphanumeric at both ends.
pub fn check_dns_label(value: &str) -> Result<(), String> {
    check_length(value, MAX_DNS_LABEL_LEN)?;
    check_dns_chars(value, false)
}

/// Checks a DNS-1123 subdomain: dot-separated labels, at most 253 characters in all.
pub fn check_dns_subdomain(value: &str) -> Result<(), String> {
    check_length(value, MAX_DNS_SUBDOMAIN_LEN)?;
    check_dns_chars(value, true)
}

fn check_length(value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        return Err(format!(
            "{value:?} is {} characters long, more than {max}",
            value.len()
        ));
    }
    Ok(())
}

fn check_dns_chars(value: &str, dots_allowed: bool) -> Result<(), String> {
    let allowed = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots_allowed && c == '.')
    };
    if value.is_empty() {
        return Err("the name is empty".into());
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "{value:?} contains {bad:?}; use lowercase letters, digits{} and '-'",
            if dots_allowed { ", '.'" } else { "" }
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let parts_ok = value
        .split('.')
        .all(|part| edge_ok(part.chars().next()) && edge_ok(part.chars().last()));
    if !parts_ok {
        return Err(format!(
            "{value:?} must start and end with a letter or digit{}",
            if dots_allowed {
                " (around every '.')"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// Checks a label value: empty, or at most 63 characters of alphanumerics, '-', '_' and '.',
/// alphanumeric at both ends.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_length(value, MAX_DNS_LABEL_LEN)?;
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!("{value:?} contains {bad:?}"));
    }
    let ends_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ends_ok {
        return Err(format!(
            "{value:?} must start and end with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_names_follow_helm_convention() {
        assert!(check_chart_name("my-app2").is_ok());
        assert!(check_chart_name("MyApp").unwrap_err().contains("'M'"));
        assert!(check_chart_name("my_app").unwrap_err().contains("'_'"));
        assert!(check_chart_name("-app").is_err());
        assert!(check_chart_name("").is_err());
        assert!(check_chart_name(&"a".repeat(251)).is_err());
    }

    #[test]
    fn dns_labels_and_subdomains() {
        assert!(check_dns_label("web-1").is_ok());
        assert!(check_dns_label("web.1").is_err());
        assert!(check_dns_label(&"a".repeat(64)).is_err());
        assert!(check_dns_subdomain("a.b-c.d").is_ok());
        assert!(check_dns_subdomain("a..b").is_err());
        assert!(check_dns_subdomain("Web").is_err());
    }

    #[test]
    fn label_values() {
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("v1.2_3-x").is_ok());
        assert!(check_label_value("1.0+build").is_err());
        assert!(check_label_value("-x").is_err());
        assert!(check_label_value(&"a".repeat(64)).is_err());
    }
}
