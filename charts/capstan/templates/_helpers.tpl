{#- Resource names: the release name, plus the chart name unless the release already contains it. -#}
{% macro fullname() -%}
{%- if chart.name in release.name -%}
{{ release.name | trunc(63) | trim_suffix("-") }}
{%- else -%}
{{ (release.name ~ "-" ~ chart.name) | trunc(63) | trim_suffix("-") }}
{%- endif -%}
{%- endmacro %}

{% macro selector_labels() -%}
app.kubernetes.io/name: capstan-operator
app.kubernetes.io/instance: {{ release.name }}
{%- endmacro %}

{% macro labels() -%}
{{ selector_labels() }}
app.kubernetes.io/version: {{ chart.app_version | quote }}
app.kubernetes.io/part-of: capstan
helm.sh/chart: {{ chart.name }}-{{ chart.version }}
{%- endmacro %}

{% macro service_account_name() -%}
{%- if values.serviceAccount.create -%}
{{ values.serviceAccount.name or fullname() }}
{%- else -%}
{{ values.serviceAccount.name | required("serviceAccount.name is required when serviceAccount.create is false") }}
{%- endif -%}
{%- endmacro %}

{#- The image `make image` pushed: by digest when one is given, else by tag. -#}
{% macro image() -%}
{%- set repository = values.image.repository | required("image.repository is required: build and push the image with `make image REGISTRY=registry.example/team` and set image.repository=registry.example/team/capstan-operator") -%}
{%- if values.image.digest -%}
{{ repository }}@{{ values.image.digest }}
{%- else -%}
{{ repository }}:{{ values.image.tag or chart.app_version }}
{%- endif -%}
{%- endmacro %}

{% macro check_mode() -%}
{%- if values.mode not in ["impersonate", "single-tenant"] -%}
{{ fail("mode must be impersonate or single-tenant, not " ~ values.mode) }}
{%- endif -%}
{%- endmacro %}
