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
{{- else if .Values.existingSecret.name }}
{{- $items = append $items (dict "key" .Values.existingSecret.personalAccessTokenKey "path" "personal-access-token" "env" "PERSONAL_ACCESS_TOKEN_FILE") }}
{{- if .Values.existingSecret.databasePasswordKey }}
{{- $items = append $items (dict "key" .Values.existingSecret.databasePasswordKey "path" "database-password" "env" "SOURCE_DATABASE_PASSWORD_FILE") }}
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
Checks of the values that the schema cannot express (and a second line of defence for
the ones it does, should the schema be skipped). Fails the render with a clear message.
*/}}
{{- define "polyteia-db-connector.validate" -}}
{{- $v := .Values }}
{{- if not (has $v.mode (list "cronjob" "schedule")) }}
{{- fail (printf "mode must be cronjob or schedule, not %q" (toString $v.mode)) }}
{{- end }}
{{- $secretKeys := list "PERSONAL_ACCESS_TOKEN" "PERSONAL_ACCESS_TOKEN_FILE" "SOURCE_DATABASE_PASSWORD" "SOURCE_DATABASE_PASSWORD_FILE" }}
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
        value: {{ $v.cronSchedule | quote }}
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
