{{- /*
The pod: its spec and metadata, shared by the CronJob's Job, the Deployment and
the `helm test` pod.
*/ -}}

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
