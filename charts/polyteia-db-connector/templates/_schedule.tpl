{{- /*
The schedule (H resolved) and the CronJob that runs on it.
*/ -}}

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
