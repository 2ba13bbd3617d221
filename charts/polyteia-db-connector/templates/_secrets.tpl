{{- /*
The files mounted into the pod: the Secret (its name, its items, where it is
mounted, the Secret object the chart makes) and the CA bundle.
*/ -}}

{{/*
Name of the Secret holding the personal access key / database password ("" = none).
*/}}
{{- define "polyteia-db-connector.secretName" -}}
{{- if .Values.secret.create }}
{{- include "polyteia-db-connector.fullname" . }}
{{- else if .Values.existingSecret.name }}
{{- .Values.existingSecret.name }}
{{- end }}
{{- end }}

{{/*
Secret items to mount as files: a list of {key, path, env} as JSON.
*/}}
{{- define "polyteia-db-connector.secretItems" -}}
{{- $items := list }}
{{- if .Values.secret.create }}
{{- $items = append $items (dict "key" "personal-access-token" "path" "personal-access-token" "env" "PERSONAL_ACCESS_TOKEN_FILE") }}
{{- if .Values.secret.databasePassword }}
{{- $items = append $items (dict "key" "database-password" "path" "database-password" "env" "SOURCE_DATABASE_PASSWORD_FILE") }}
{{- end }}
{{- if and .Values.secret.pushgatewayPassword (include "polyteia-db-connector.pushes" .) }}
{{- $items = append $items (dict "key" "pushgateway-password" "path" "pushgateway-password" "env" "PUSHGATEWAY_PASSWORD_FILE") }}
{{- end }}
{{- if .Values.secret.pseudonymizationKey }}
{{- $items = append $items (dict "key" "pseudonymization-key" "path" "pseudonymization-key" "env" "PSEUDONYMIZATION_KEY_FILE") }}
{{- end }}
{{- if .Values.secret.odbcConnectionString }}
{{- $items = append $items (dict "key" "odbc-connection-string" "path" "odbc-connection-string" "env" "SOURCE_ODBC_CONNECTION_STRING_FILE") }}
{{- end }}
{{- else if .Values.existingSecret.name }}
{{- $items = append $items (dict "key" .Values.existingSecret.personalAccessTokenKey "path" "personal-access-token" "env" "PERSONAL_ACCESS_TOKEN_FILE") }}
{{- if .Values.existingSecret.databasePasswordKey }}
{{- $items = append $items (dict "key" .Values.existingSecret.databasePasswordKey "path" "database-password" "env" "SOURCE_DATABASE_PASSWORD_FILE") }}
{{- end }}
{{- if and .Values.existingSecret.pushgatewayPasswordKey (include "polyteia-db-connector.pushes" .) }}
{{- $items = append $items (dict "key" .Values.existingSecret.pushgatewayPasswordKey "path" "pushgateway-password" "env" "PUSHGATEWAY_PASSWORD_FILE") }}
{{- end }}
{{- if .Values.existingSecret.pseudonymizationKeyKey }}
{{- $items = append $items (dict "key" .Values.existingSecret.pseudonymizationKeyKey "path" "pseudonymization-key" "env" "PSEUDONYMIZATION_KEY_FILE") }}
{{- end }}
{{- if .Values.existingSecret.odbcConnectionStringKey }}
{{- $items = append $items (dict "key" .Values.existingSecret.odbcConnectionStringKey "path" "odbc-connection-string" "env" "SOURCE_ODBC_CONNECTION_STRING_FILE") }}
{{- end }}
{{- end }}
{{- toJson $items }}
{{- end }}

{{/*
Where the Secret is mounted.
*/}}
{{- define "polyteia-db-connector.secretMountPath" -}}
/var/run/secrets/polyteia-db-connector
{{- end }}

{{/*
Where caBundle is mounted, and the file SSL_CERT_FILE names ("" = no caBundle).
*/}}
{{- define "polyteia-db-connector.caBundleDir" -}}
/etc/polyteia-db-connector/ca
{{- end }}
{{- define "polyteia-db-connector.caBundleFile" -}}
{{- if or .Values.caBundle.configMapName .Values.caBundle.secretName }}
{{- printf "%s/ca-bundle.pem" (include "polyteia-db-connector.caBundleDir" .) }}
{{- end }}
{{- end }}

{{/*
A Secret made by the chart (the release's, or a job's own with `jobs`).
*/}}
{{- define "polyteia-db-connector.secret" -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "polyteia-db-connector.fullname" . }}
  labels:
    {{- include "polyteia-db-connector.labels" . | nindent 4 }}
  {{- with .Values.secret.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
type: Opaque
data:
  personal-access-token: {{ .Values.secret.personalAccessToken | b64enc | quote }}
  {{- with .Values.secret.databasePassword }}
  database-password: {{ . | b64enc | quote }}
  {{- end }}
  {{- with .Values.secret.pushgatewayPassword }}
  pushgateway-password: {{ . | b64enc | quote }}
  {{- end }}
  {{- with .Values.secret.pseudonymizationKey }}
  pseudonymization-key: {{ . | b64enc | quote }}
  {{- end }}
  {{- with .Values.secret.odbcConnectionString }}
  odbc-connection-string: {{ . | b64enc | quote }}
  {{- end }}
{{- end }}
