{{- /*
The `jobs` list: one CronJob per job, each with the chart's values as they apply to it.
*/ -}}

{{/*
The `jobs` list made ready to render: a JSON list of {name, values}, where values are
the chart's values as they apply to that job (config merged with the job's, H resolved,
its own fullname, the release's ServiceAccount, the Secret it uses). Templates render a
job by passing (dict "Values" .values "Chart" $.Chart "Release" $.Release "Template"
$.Template) to the same helpers as the single-job chart. Every problem of a job fails
the render with a message naming the job.
*/}}
{{- define "polyteia-db-connector.jobs" -}}
{{- $root := . }}
{{- $v := .Values }}
{{- $out := list }}
{{- if $v.jobs }}
{{- if ne $v.mode "cronjob" }}
{{- fail "jobs is for mode cronjob (one CronJob per job); mode schedule runs one query in one long-lived pod: use one release per query there, or mode cronjob" }}
{{- end }}
{{- $fullname := include "polyteia-db-connector.fullname" . }}
{{- $secretKeys := list "PERSONAL_ACCESS_TOKEN" "PERSONAL_ACCESS_TOKEN_FILE" "SOURCE_DATABASE_PASSWORD" "SOURCE_DATABASE_PASSWORD_FILE" "SOURCE_ODBC_CONNECTION_STRING" "SOURCE_ODBC_CONNECTION_STRING_FILE" "PUSHGATEWAY_PASSWORD" "PUSHGATEWAY_PASSWORD_FILE" "PSEUDONYMIZATION_KEY" "PSEUDONYMIZATION_KEY_FILE" }}
{{- $chartKeys := dict "CRON_SCHEDULE" "cronSchedule" "CRON_TZ" "timeZone" "HEALTH_CHECK_PORT" "healthCheckPort" "TEMP_DIR" "tmpSizeLimit (the /tmp volume)" }}
{{- $seen := dict }}
{{- $schedules := dict }}
{{- range $i, $job := $v.jobs }}
{{- if not (kindIs "map" $job) }}
{{- fail (printf "jobs[%d] must be a map with at least a name" $i) }}
{{- end }}
{{- $name := toString (default "" (get $job "name")) }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name) }}
{{- fail (printf "jobs[%d]: name %q must be lower-case letters, digits and '-', starting and ending with a letter or digit" $i $name) }}
{{- end }}
{{- if hasKey $seen $name }}
{{- fail (printf "job %q: the name is used twice in jobs (jobs[%d] and jobs[%d]); every job needs its own" $name (get $seen $name) $i) }}
{{- end }}
{{- $_ := set $seen $name $i }}
{{- $cronJobName := printf "%s-%s" $fullname $name }}
{{- if gt (len $cronJobName) 52 }}
{{- fail (printf "job %q: its CronJob name %q has %d characters, Kubernetes allows 52; shorten the job name (or the release name, or set fullnameOverride)" $name $cronJobName (len $cronJobName)) }}
{{- end }}
{{- range $key, $_ := default dict (get $job "config") }}
{{- if has $key $secretKeys }}
{{- fail (printf "job %q: config.%s: secrets must not go into the ConfigMap; use the job's secret or existingSecret (mounted as files)" $name $key) }}
{{- end }}
{{- if hasKey $chartKeys $key }}
{{- fail (printf "job %q: config.%s is set by the chart; use the job's %s instead" $name $key (get $chartKeys $key)) }}
{{- end }}
{{- end }}
{{- $_ := set $schedules $name (default $v.cronSchedule (get $job "cronSchedule")) }}
{{- end }}

{{- /* H minutes: each job takes the minute its name hashes to; jobs whose minute is
taken already (in name order) move to the next free one, so up to 60 jobs on "H ..."
never share a minute. */}}
{{- $hashed := dict }}
{{- $minutes := dict }}
{{- $taken := dict }}
{{- range $name := keys $schedules | sortAlpha }}
{{- $fields := regexSplit "\\s+" (trim (get $schedules $name)) -1 }}
{{- if eq (index $fields 0) "H" }}
{{- $minute := mod (include "polyteia-db-connector.hashNumber" (printf "%s/%s" $root.Release.Name $name) | atoi) 60 }}
{{- $_ := set $hashed $name $minute }}
{{- if not (hasKey $taken (toString $minute)) }}
{{- $_ := set $taken (toString $minute) $name }}
{{- $_ := set $minutes $name $minute }}
{{- end }}
{{- end }}
{{- end }}
{{- range $name := keys $hashed | sortAlpha }}
{{- if not (hasKey $minutes $name) }}
{{- $first := get $hashed $name }}
{{- $_ := set $minutes $name $first }}
{{- range $step := until 59 }}
{{- $minute := mod (add $first $step 1) 60 }}
{{- if and (eq (get $minutes $name) $first) (not (hasKey $taken (toString $minute))) }}
{{- $_ := set $taken (toString $minute) $name }}
{{- $_ := set $minutes $name $minute }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- $serviceAccountName := include "polyteia-db-connector.serviceAccountName" . }}
{{- range $job := $v.jobs }}
{{- $name := get $job "name" }}
{{- $jv := deepCopy $v }}
{{- $_ := set $jv "jobs" list }}
{{- $_ := set $jv "fullnameOverride" (printf "%s-%s" $fullname $name) }}
{{- $_ := set $jv.serviceAccount "name" $serviceAccountName }}
{{- $scheduleArgs := dict "schedule" (get $schedules $name) "key" (printf "%s/%s" $root.Release.Name $name) }}
{{- if hasKey $minutes $name }}
{{- $_ := set $scheduleArgs "minute" (get $minutes $name) }}
{{- end }}
{{- $_ := set $jv "cronSchedule" (include "polyteia-db-connector.resolveSchedule" $scheduleArgs) }}
{{- if hasKey $job "timeZone" }}
{{- $_ := set $jv "timeZone" (get $job "timeZone") }}
{{- end }}
{{- if hasKey $job "suspend" }}
{{- $_ := set $jv.cronjob "suspend" (get $job "suspend") }}
{{- end }}
{{- if hasKey $job "activeDeadlineSeconds" }}
{{- $_ := set $jv.cronjob "activeDeadlineSeconds" (get $job "activeDeadlineSeconds") }}
{{- end }}
{{- /* The job's settings win over the shared ones (set key by key, so that false,
"" and null override too). */}}
{{- $config := deepCopy (default dict $v.config) }}
{{- range $key, $value := default dict (get $job "config") }}
{{- $_ := set $config $key $value }}
{{- end }}
{{- $_ := set $jv "config" $config }}
{{- with get $job "resources" }}
{{- $_ := set $jv "resources" (mergeOverwrite (deepCopy (default dict $v.resources)) (deepCopy .)) }}
{{- end }}
{{- /* The job's env entries come after the shared ones and replace those of the same name. */}}
{{- $jobEnvNames := list }}
{{- $jobEnv := default list (get $job "env") }}
{{- range $jobEnv }}
{{- if and (has .name $secretKeys) (hasKey . "value") }}
{{- fail (printf "job %q: env %s: a secret must not be a plain value in the pod spec; use the job's secret or existingSecret" $name .name) }}
{{- end }}
{{- $jobEnvNames = append $jobEnvNames .name }}
{{- end }}
{{- $env := list }}
{{- range $v.env }}
{{- if not (has .name $jobEnvNames) }}
{{- $env = append $env . }}
{{- end }}
{{- end }}
{{- $_ := set $jv "env" (concat $env $jobEnv) }}
{{- range $key := list "SOURCE_DATABASE_SQL_QUERY" "DATASET_ID" }}
{{- $value := get $config $key }}
{{- $inEnv := false }}
{{- range $jv.env }}
{{- if eq .name $key }}
{{- $inEnv = true }}
{{- end }}
{{- end }}
{{- if and (or (kindIs "invalid" $value) (eq (toString $value | trim) "")) (not $inEnv) }}
{{- fail (printf "job %q: %s is not set, neither in the job's config nor in config; every job needs its own query and dataset" $name $key) }}
{{- end }}
{{- end }}
{{- /* The Secret: the job's own (secret.create: a Secret named like its CronJob; the
values it leaves out come from the shared secret), a Secret that exists (existingSecret.name;
the key names it leaves out come from the shared existingSecret), else the release's. */}}
{{- $jobSecret := default dict (get $job "secret") }}
{{- $jobExisting := default dict (get $job "existingSecret") }}
{{- if and (get $jobSecret "create") (get $jobExisting "name") }}
{{- fail (printf "job %q: set either secret.create or existingSecret.name, not both" $name) }}
{{- end }}
{{- if get $jobSecret "create" }}
{{- $secret := deepCopy $v.secret }}
{{- range $key, $value := $jobSecret }}
{{- $_ := set $secret $key $value }}
{{- end }}
{{- if not $secret.personalAccessToken }}
{{- fail (printf "job %q: secret.create is true but neither the job's nor the shared secret.personalAccessToken is set" $name) }}
{{- end }}
{{- $_ := set $jv "secret" $secret }}
{{- $_ := set $jv.existingSecret "name" "" }}
{{- else if get $jobExisting "name" }}
{{- range $key, $value := $jobExisting }}
{{- $_ := set $jv.existingSecret $key $value }}
{{- end }}
{{- $_ := set $jv.secret "create" false }}
{{- if not $jv.existingSecret.personalAccessTokenKey }}
{{- fail (printf "job %q: existingSecret.personalAccessTokenKey must name the key that holds the personal access key" $name) }}
{{- end }}
{{- else if $v.secret.create }}
{{- /* The release's chart-made Secret, referred to by name like an existing one. */}}
{{- $_ := set $jv "existingSecret" (dict "name" $fullname "personalAccessTokenKey" "personal-access-token" "databasePasswordKey" "") }}
{{- if $v.secret.databasePassword }}
{{- $_ := set $jv.existingSecret "databasePasswordKey" "database-password" }}
{{- end }}
{{- $_ := set $jv.existingSecret "pushgatewayPasswordKey" "" }}
{{- if $v.secret.pushgatewayPassword }}
{{- $_ := set $jv.existingSecret "pushgatewayPasswordKey" "pushgateway-password" }}
{{- end }}
{{- $_ := set $jv.existingSecret "pseudonymizationKeyKey" "" }}
{{- if $v.secret.pseudonymizationKey }}
{{- $_ := set $jv.existingSecret "pseudonymizationKeyKey" "pseudonymization-key" }}
{{- end }}
{{- $_ := set $jv.existingSecret "odbcConnectionStringKey" "" }}
{{- if $v.secret.odbcConnectionString }}
{{- $_ := set $jv.existingSecret "odbcConnectionStringKey" "odbc-connection-string" }}
{{- end }}
{{- $_ := set $jv.secret "create" false }}
{{- end }}
{{- $out = append $out (dict "name" $name "values" $jv) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}
