{{/* mariner renders nothing */}}
