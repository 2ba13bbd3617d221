{{/*
Chart name.
*/}}
{{- define "polyteia-db-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. At most 52 characters: a CronJob's name is limited
to 52 because its Jobs append an 11-character suffix.
*/}}
{{- define "polyteia-db-connector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "polyteia-db-connector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels (stable across upgrades).
*/}}
{{- define "polyteia-db-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "polyteia-db-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels of every object.
*/}}
{{- define "polyteia-db-connector.labels" -}}
helm.sh/chart: {{ include "polyteia-db-connector.chart" . }}
{{ include "polyteia-db-connector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: polyteia-db-connector
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount the pods use.
*/}}
{{- define "polyteia-db-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "polyteia-db-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository@digest, else repository:tag (tag defaults to appVersion).
*/}}
{{- define "polyteia-db-connector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

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
{{- else if .Values.existingSecret.name }}
{{- $items = append $items (dict "key" .Values.existingSecret.personalAccessTokenKey "path" "personal-access-token" "env" "PERSONAL_ACCESS_TOKEN_FILE") }}
{{- if .Values.existingSecret.databasePasswordKey }}
{{- $items = append $items (dict "key" .Values.existingSecret.databasePasswordKey "path" "database-password" "env" "SOURCE_DATABASE_PASSWORD_FILE") }}
{{- end }}
{{- if and .Values.existingSecret.pushgatewayPasswordKey (include "polyteia-db-connector.pushes" .) }}
{{- $items = append $items (dict "key" .Values.existingSecret.pushgatewayPasswordKey "path" "pushgateway-password" "env" "PUSHGATEWAY_PASSWORD_FILE") }}
{{- end }}
{{- end }}
{{- toJson $items }}
{{- end }}

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
Checks of the values that the schema cannot express (and a second line of defence for
the ones it does, should the schema be skipped). Fails the render with a clear message.
*/}}
{{- define "polyteia-db-connector.validate" -}}
{{- $v := .Values }}
{{- if not (has $v.mode (list "cronjob" "schedule")) }}
{{- fail (printf "mode must be cronjob or schedule, not %q" (toString $v.mode)) }}
{{- end }}
{{- $secretKeys := list "PERSONAL_ACCESS_TOKEN" "PERSONAL_ACCESS_TOKEN_FILE" "SOURCE_DATABASE_PASSWORD" "SOURCE_DATABASE_PASSWORD_FILE" "PUSHGATEWAY_PASSWORD" "PUSHGATEWAY_PASSWORD_FILE" }}
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

{{/*
The pod spec shared by the CronJob's Job, the Deployment and the test pod.
Call with (dict "root" $ "args" (list "run") "component" "connector" "serve" false "restartPolicy" "Never").
*/}}
{{- define "polyteia-db-connector.podSpec" -}}
{{- $root := .root }}
{{- $v := $root.Values -}}
{{- $secretName := include "polyteia-db-connector.secretName" $root }}
{{- $items := include "polyteia-db-connector.secretItems" $root | fromJsonArray }}
{{- $mountPath := include "polyteia-db-connector.secretMountPath" $root -}}
{{- $caFile := include "polyteia-db-connector.caBundleFile" $root -}}
serviceAccountName: {{ include "polyteia-db-connector.serviceAccountName" $root }}
automountServiceAccountToken: false
restartPolicy: {{ .restartPolicy }}
terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
containers:
  - name: connector
    image: {{ include "polyteia-db-connector.image" $root | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    {{- if .serve }}
    ports:
      - name: http
        containerPort: {{ $v.healthCheckPort }}
        protocol: TCP
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      {{- toYaml $v.livenessProbe | nindent 6 }}
    readinessProbe:
      httpGet:
        path: /healthz
        port: http
      {{- toYaml $v.readinessProbe | nindent 6 }}
    {{- end }}
    env:
      - name: TEMP_DIR
        value: /tmp
      - name: CRON_SCHEDULE
        value: {{ include "polyteia-db-connector.cronSchedule" $root | quote }}
      {{- with $v.timeZone }}
      - name: CRON_TZ
        value: {{ . | quote }}
      {{- end }}
      - name: HEALTH_CHECK_PORT
        value: {{ $v.healthCheckPort | quote }}
      {{- range $items }}
      - name: {{ .env }}
        value: {{ printf "%s/%s" $mountPath .path | quote }}
      {{- end }}
      {{- if $caFile }}
      - name: SSL_CERT_FILE
        value: {{ $caFile | quote }}
      {{- end }}
      {{- with $v.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    envFrom:
      - configMapRef:
          name: {{ include "polyteia-db-connector.fullname" $root }}
      {{- with $v.envFrom }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    {{- with $v.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if $items }}
      - name: secrets
        mountPath: {{ $mountPath }}
        readOnly: true
      {{- end }}
      {{- if $caFile }}
      - name: ca-bundle
        mountPath: {{ include "polyteia-db-connector.caBundleDir" $root }}
        readOnly: true
      {{- end }}
      {{- with $v.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      {{- with $v.tmpMedium }}
      medium: {{ . }}
      {{- end }}
      sizeLimit: {{ $v.tmpSizeLimit }}
  {{- if $items }}
  - name: secrets
    secret:
      secretName: {{ $secretName }}
      defaultMode: 0440
      items:
        {{- range $items }}
        - key: {{ .key }}
          path: {{ .path }}
        {{- end }}
  {{- end }}
  {{- if $caFile }}
  - name: ca-bundle
    {{- if $v.caBundle.configMapName }}
    configMap:
      name: {{ $v.caBundle.configMapName }}
    {{- else }}
    secret:
      secretName: {{ $v.caBundle.secretName }}
    {{- end }}
      defaultMode: 0444
      items:
        - key: {{ $v.caBundle.key }}
          path: ca-bundle.pem
  {{- end }}
  {{- with $v.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Pod template metadata shared by the Job, the Deployment and the test pod.
Call with (dict "root" $ "component" "connector" "serve" false), optionally "extraAnnotations".
*/}}
{{- define "polyteia-db-connector.podMetadata" -}}
{{- $root := .root }}
{{- $v := $root.Values -}}
labels:
  {{- include "polyteia-db-connector.labels" $root | nindent 2 }}
  app.kubernetes.io/component: {{ .component }}
  {{- with $v.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
  {{- if $v.secret.create }}
  checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
  {{- end }}
  {{- if and .serve $v.metrics.prometheusAnnotations }}
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ $v.healthCheckPort | quote }}
  prometheus.io/path: /metrics
  {{- end }}
  {{- with $v.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with .extraAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
A non-negative number derived from a string (the first 28 bits of its SHA-256), for
the H of a schedule: the same string gives the same number on every render.
*/}}
{{- define "polyteia-db-connector.hashNumber" -}}
{{- $digits := dict "0" 0 "1" 1 "2" 2 "3" 3 "4" 4 "5" 5 "6" 6 "7" 7 "8" 8 "9" 9 "a" 10 "b" 11 "c" 12 "d" 13 "e" 14 "f" 15 }}
{{- $n := 0 }}
{{- range $c := splitList "" (sha256sum . | trunc 7) }}
{{- $n = add (mul $n 16) (get $digits $c) }}
{{- end }}
{{- $n }}
{{- end }}

{{/*
A schedule with H replaced, as Jenkins does: H in the minute field becomes `minute`
(when given) or a minute derived from `key`; H in the hour field an hour derived from
`key`. Any other schedule is returned unchanged, character for character.
Call with (dict "schedule" "H 2 * * *" "key" "release/job" "minute" 17).
*/}}
{{- define "polyteia-db-connector.resolveSchedule" -}}
{{- $fields := regexSplit "\\s+" (trim .schedule) -1 }}
{{- if and (ge (len $fields) 2) (or (eq (index $fields 0) "H") (eq (index $fields 1) "H")) }}
{{- $minute := index $fields 0 }}
{{- if eq $minute "H" }}
{{- if hasKey . "minute" }}
{{- $minute = toString (get . "minute") }}
{{- else }}
{{- $minute = toString (mod (include "polyteia-db-connector.hashNumber" .key | atoi) 60) }}
{{- end }}
{{- end }}
{{- $hour := index $fields 1 }}
{{- if eq $hour "H" }}
{{- $hour = toString (mod (include "polyteia-db-connector.hashNumber" (printf "%s/hour" .key) | atoi) 24) }}
{{- end }}
{{- concat (list $minute $hour) (slice $fields 2) | join " " }}
{{- else }}
{{- .schedule }}
{{- end }}
{{- end }}

{{/*
The workload's cron schedule, H resolved (keyed by the release name alone; the jobs
of a `jobs` list arrive here resolved already).
*/}}
{{- define "polyteia-db-connector.cronSchedule" -}}
{{- include "polyteia-db-connector.resolveSchedule" (dict "schedule" .Values.cronSchedule "key" (printf "%s/" .Release.Name)) }}
{{- end }}

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
{{- $secretKeys := list "PERSONAL_ACCESS_TOKEN" "PERSONAL_ACCESS_TOKEN_FILE" "SOURCE_DATABASE_PASSWORD" "SOURCE_DATABASE_PASSWORD_FILE" "PUSHGATEWAY_PASSWORD" "PUSHGATEWAY_PASSWORD_FILE" }}
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
{{- $_ := set $jv.secret "create" false }}
{{- end }}
{{- $out = append $out (dict "name" $name "values" $jv) }}
{{- end }}
{{- end }}
{{- toJson $out }}
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

{{/*
The CronJob (one per job with `jobs`). Call with (dict "root" $ "component" "connector"),
or the job's root and its name as the component.
*/}}
{{- define "polyteia-db-connector.cronJob" -}}
{{- $root := .root }}
{{- $c := $root.Values.cronjob }}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "polyteia-db-connector.fullname" $root }}
  labels:
    {{- include "polyteia-db-connector.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  schedule: {{ include "polyteia-db-connector.cronSchedule" $root | quote }}
  {{- with $root.Values.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  # Never two uploads to the same dataset at once.
  concurrencyPolicy: Forbid
  suspend: {{ $c.suspend }}
  {{- if not (kindIs "invalid" $c.startingDeadlineSeconds) }}
  startingDeadlineSeconds: {{ $c.startingDeadlineSeconds }}
  {{- end }}
  successfulJobsHistoryLimit: {{ $c.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $c.failedJobsHistoryLimit }}
  jobTemplate:
    metadata:
      labels:
        {{- include "polyteia-db-connector.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
    spec:
      backoffLimit: {{ $c.backoffLimit }}
      activeDeadlineSeconds: {{ $c.activeDeadlineSeconds }}
      {{- if not (kindIs "invalid" $c.ttlSecondsAfterFinished) }}
      ttlSecondsAfterFinished: {{ $c.ttlSecondsAfterFinished }}
      {{- end }}
      {{- if $c.podFailurePolicy.enabled }}
      podFailurePolicy:
        rules:
          - action: FailJob
            onExitCodes:
              containerName: connector
              operator: In
              values:
                {{- toYaml $c.podFailurePolicy.nonRetryableExitCodes | nindent 16 }}
            # Empty, but required by the API schema of Kubernetes <= 1.28.
            onPodConditions: []
          - action: Ignore
            onPodConditions:
              - type: DisruptionTarget
                status: "True"
      {{- end }}
      template:
        metadata:
          {{- include "polyteia-db-connector.podMetadata" (dict "root" $root "component" .component "serve" false) | nindent 10 }}
        spec:
          {{- include "polyteia-db-connector.podSpec" (dict "root" $root "args" (list "run") "serve" false "restartPolicy" "Never") | nindent 10 }}
{{- end }}

{{/*
The `helm test` pod: `connector check` with the workload's settings (one per job with `jobs`).
*/}}
{{- define "polyteia-db-connector.testPod" -}}
{{- $hook := dict "helm.sh/hook" "test" "helm.sh/hook-delete-policy" "before-hook-creation,hook-succeeded" }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "polyteia-db-connector.fullname" . }}-check
  {{- include "polyteia-db-connector.podMetadata" (dict "root" . "component" "check" "serve" false "extraAnnotations" $hook) | nindent 2 }}
spec:
  {{- include "polyteia-db-connector.podSpec" (dict "root" . "args" (list "check") "serve" false "restartPolicy" "Never") | nindent 2 }}
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
{{- end }}
