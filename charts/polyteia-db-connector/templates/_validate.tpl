{{- /*
Checks of the values that fail the render with a clear message.
*/ -}}

{{/*
Checks of the values that the schema cannot express (and a second line of defence for
the ones it does, should the schema be skipped). Fails the render with a clear message.
*/}}
{{- define "polyteia-db-connector.validate" -}}
{{- $v := .Values }}
{{- if not (has $v.mode (list "cronjob" "schedule")) }}
{{- fail (printf "mode must be cronjob or schedule, not %q" (toString $v.mode)) }}
{{- end }}
{{- $secretKeys := list "PERSONAL_ACCESS_TOKEN" "PERSONAL_ACCESS_TOKEN_FILE" "SOURCE_DATABASE_PASSWORD" "SOURCE_DATABASE_PASSWORD_FILE" "SOURCE_ODBC_CONNECTION_STRING" "SOURCE_ODBC_CONNECTION_STRING_FILE" "PUSHGATEWAY_PASSWORD" "PUSHGATEWAY_PASSWORD_FILE" "PSEUDONYMIZATION_KEY" "PSEUDONYMIZATION_KEY_FILE" }}
{{- $chartKeys := dict "CRON_SCHEDULE" "cronSchedule" "CRON_TZ" "timeZone" "HEALTH_CHECK_PORT" "healthCheckPort" "TEMP_DIR" "tmpSizeLimit (the /tmp volume)" }}
{{- range $key, $_ := $v.config }}
{{- if has $key $secretKeys }}
{{- fail (printf "config.%s: secrets must not go into the ConfigMap; use secret.create with secret.personalAccessToken / secret.databasePassword, or existingSecret.name (mounted as files, passed as *_FILE)" $key) }}
{{- end }}
{{- if hasKey $chartKeys $key }}
{{- fail (printf "config.%s is set by the chart; use the value %s instead" $key (get $chartKeys $key)) }}
{{- end }}
{{- end }}
{{- $managed := or $v.secret.create $v.existingSecret.name }}
{{- range $v.env }}
{{- if has .name $secretKeys }}
{{- if hasKey . "value" }}
{{- fail (printf "env %s: a secret must not be a plain value in the pod spec; use secret.create or existingSecret.name" .name) }}
{{- end }}
{{- if $managed }}
{{- fail (printf "env %s: the chart passes this secret already (secret / existingSecret); remove it from env" .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.secret.create $v.existingSecret.name }}
{{- fail "set either secret.create or existingSecret.name, not both" }}
{{- end }}
{{- if and $v.caBundle.configMapName $v.caBundle.secretName }}
{{- fail "set either caBundle.configMapName or caBundle.secretName, not both" }}
{{- end }}
{{- if or $v.caBundle.configMapName $v.caBundle.secretName }}
{{- if hasKey $v.config "SSL_CERT_FILE" }}
{{- fail "config.SSL_CERT_FILE is set by the chart when caBundle is used; remove it" }}
{{- end }}
{{- range $v.env }}
{{- if eq .name "SSL_CERT_FILE" }}
{{- fail "env SSL_CERT_FILE is set by the chart when caBundle is used; remove it" }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.secret.create (not $v.secret.personalAccessToken) }}
{{- fail "secret.create is true but secret.personalAccessToken is empty (use --set-file secret.personalAccessToken=PATH)" }}
{{- end }}
{{- if and $v.existingSecret.name (not $v.existingSecret.personalAccessTokenKey) }}
{{- fail "existingSecret.personalAccessTokenKey must name the key that holds the personal access key" }}
{{- end }}
{{- $push := $v.metrics.pushgateway }}
{{- if and $push.url (ne $v.mode "cronjob") }}
{{- fail "metrics.pushgateway is for mode cronjob; in mode schedule Prometheus scrapes /metrics (metrics.prometheusAnnotations)" }}
{{- end }}
{{- $pushPassword := or (and $v.secret.create $v.secret.pushgatewayPassword) (and $v.existingSecret.name $v.existingSecret.pushgatewayPasswordKey) }}
{{- if and $push.url $push.username (not $pushPassword) }}
{{- fail "metrics.pushgateway.username needs a password: secret.pushgatewayPassword (with secret.create) or existingSecret.pushgatewayPasswordKey" }}
{{- end }}
{{- if and $push.url $pushPassword (not $push.username) }}
{{- fail "a Pushgateway password is set (secret.pushgatewayPassword / existingSecret.pushgatewayPasswordKey) but metrics.pushgateway.username is empty" }}
{{- end }}
{{- if and (eq $v.mode "schedule") (regexMatch "(^|\\s)H(\\s|$)" $v.cronSchedule) }}
{{- fail "cronSchedule: H (a minute or hour chosen by the chart) is for mode cronjob; in mode schedule write the number" }}
{{- end }}
{{- end }}
