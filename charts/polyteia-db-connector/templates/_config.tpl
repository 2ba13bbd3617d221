{{- /*
The plain settings: what the chart adds (the Pushgateway's) and the ConfigMap.
*/ -}}

{{/*
"true" when the runs push their metrics to a Pushgateway (mode cronjob with
metrics.pushgateway.url), else "".
*/}}
{{- define "polyteia-db-connector.pushes" -}}
{{- if and (eq .Values.mode "cronjob") .Values.metrics.pushgateway.url }}true{{ end }}
{{- end }}

{{/*
The settings the chart puts in the ConfigMap before `config` (whose keys win): the
Pushgateway's, with the workload's name as the instance label (one per job with `jobs`).
*/}}
{{- define "polyteia-db-connector.chartConfig" -}}
{{- $data := dict }}
{{- if include "polyteia-db-connector.pushes" . }}
{{- $p := .Values.metrics.pushgateway }}
{{- $_ := set $data "PUSHGATEWAY_URL" $p.url }}
{{- $_ := set $data "PUSHGATEWAY_INSTANCE" (include "polyteia-db-connector.fullname" .) }}
{{- with $p.job }}
{{- $_ := set $data "PUSHGATEWAY_JOB" . }}
{{- end }}
{{- with $p.username }}
{{- $_ := set $data "PUSHGATEWAY_USERNAME" . }}
{{- end }}
{{- end }}
{{- toJson $data }}
{{- end }}

{{/*
The ConfigMap of the plain settings (one per job with `jobs`).
Call with (dict "root" $ "component" "") or the job's root and name.
*/}}
{{- define "polyteia-db-connector.configMap" -}}
{{- $root := .root }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "polyteia-db-connector.fullname" $root }}
  labels:
    {{- include "polyteia-db-connector.labels" $root | nindent 4 }}
    {{- with .component }}
    app.kubernetes.io/component: {{ . }}
    {{- end }}
# Plain settings only: secrets come from files (see the Secret volume).
data:
  {{- $data := include "polyteia-db-connector.chartConfig" $root | fromJson }}
  {{- range $key, $value := $root.Values.config }}
  {{- $_ := set $data $key $value }}
  {{- end }}
  {{- range $key, $value := $data }}
  {{- if not (kindIs "invalid" $value) }}
  {{- $text := toString $value }}
  {{- if kindIs "float64" $value }}
  {{- /* values arrive as JSON numbers: print 1000000, not 1e+06 */}}
  {{- if eq (float64 (int64 $value)) $value }}
  {{- $text = toString (int64 $value) }}
  {{- end }}
  {{- end }}
  {{ $key }}: {{ $text | quote }}
  {{- end }}
  {{- end }}
{{- end }}
