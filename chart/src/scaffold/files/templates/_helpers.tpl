{#- Macros shared by this chart's templates. Files whose names start with "_" are never rendered
    on their own; templates use them through {% import "_helpers.tpl" as helpers %}. -#}

{#- The chart name, or values.nameOverride. Kubernetes names are DNS labels, so at most 63 characters. -#}
{% macro name() -%}
{{ (values.nameOverride or chart.name) | trunc(63) | trim_suffix("-") }}
{%- endmacro %}

{#- The name of the release's resources: the release name followed by the chart name, or just the
    release name when it already contains the chart name (so "web" of chart "web" stays "web").
    values.fullnameOverride replaces it completely. -#}
{% macro fullname() -%}
{%- if values.fullnameOverride -%}
{{ values.fullnameOverride | trunc(63) | trim_suffix("-") }}
{%- else -%}
{%- set base = values.nameOverride or chart.name -%}
{%- if base in release.name -%}
{{ release.name | trunc(63) | trim_suffix("-") }}
{%- else -%}
{{ (release.name ~ "-" ~ base) | trunc(63) | trim_suffix("-") }}
{%- endif -%}
{%- endif -%}
{%- endmacro %}

{#- The chart label value: name and version, with "+" (not allowed in label values) made "_". -#}
{% macro chart_label() -%}
{{ (chart.name ~ "-" ~ chart.version) | replace("+", "_") | trunc(63) | trim_suffix("-") }}
{%- endmacro %}

{#- The labels a Service and a Deployment select pods by. They must never change after the first
    install, because a Deployment's selector is immutable. -#}
{% macro selector_labels() -%}
app.kubernetes.io/name: {{ name() }}
app.kubernetes.io/instance: {{ release.name }}
{%- endmacro %}

{#- The common labels of every resource of the chart. -#}
{% macro labels() -%}
helm.sh/chart: {{ chart_label() }}
{{ selector_labels() }}
{%- if chart.app_version %}
app.kubernetes.io/version: {{ chart.app_version | string | quote }}
{%- endif %}
app.kubernetes.io/managed-by: {{ release.service }}
{%- endmacro %}

{#- The ServiceAccount the pods run as. -#}
{% macro service_account_name() -%}
{%- if values.serviceAccount.create -%}
{{ values.serviceAccount.name or fullname() }}
{%- else -%}
{{ values.serviceAccount.name or "default" }}
{%- endif -%}
{%- endmacro %}
