Hello from {{ .Values.name }}
