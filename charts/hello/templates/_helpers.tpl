{#- Resource name: the release name, plus the chart name unless the release already contains it. -#}
{% macro fullname() -%}
{%- if chart.name in release.name -%}
{{ release.name | trunc(63) | trim_suffix("-") }}
{%- else -%}
{{ (release.name ~ "-" ~ chart.name) | trunc(63) | trim_suffix("-") }}
{%- endif -%}
{%- endmacro %}

{% macro selector_labels() -%}
app.kubernetes.io/name: {{ chart.name }}
app.kubernetes.io/instance: {{ release.name }}
{%- endmacro %}
