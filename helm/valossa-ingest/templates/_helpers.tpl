{{/* Chart name, overridable. */}}
{{- define "valossa-ingest.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: "<release>-<chart>", or just the release when it already contains the chart name. */}}
{{- define "valossa-ingest.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "valossa-ingest.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "valossa-ingest.labels" -}}
helm.sh/chart: {{ include "valossa-ingest.chart" . }}
{{ include "valossa-ingest.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: valossa-ingest
{{- end }}

{{- define "valossa-ingest.selectorLabels" -}}
app.kubernetes.io/name: {{ include "valossa-ingest.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "api"). */}}
{{- define "valossa-ingest.componentSelectorLabels" -}}
{{ include "valossa-ingest.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "valossa-ingest.componentLabels" -}}
{{ include "valossa-ingest.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "valossa-ingest.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "valossa-ingest.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "valossa-ingest.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* PUBLIC_BASE_URL: explicit, else derived from the callbacks ingress host; required. */}}
{{- define "valossa-ingest.publicBaseUrl" -}}
{{- $ing := .Values.ingress.callbacks }}
{{- if .Values.config.publicBaseUrl }}
{{- .Values.config.publicBaseUrl | trimSuffix "/" }}
{{- else if and $ing.enabled $ing.host }}
{{- printf "%s://%s" (ternary "https" "http" $ing.tls.enabled) $ing.host }}
{{- else }}
{{- fail "set config.publicBaseUrl (or ingress.callbacks.enabled with ingress.callbacks.host): Valossa needs a public URL for its callbacks" }}
{{- end }}
{{- end }}

{{/* Non-secret settings as a YAML map of env var name -> string; the ConfigMap and the migration hook share it. */}}
{{- define "valossa-ingest.configEnv" -}}
VALOSSA_BASE_URL: {{ .Values.config.valossaBaseUrl | quote }}
PUBLIC_BASE_URL: {{ include "valossa-ingest.publicBaseUrl" . | quote }}
VALOSSA_MAX_IN_FLIGHT: {{ .Values.config.valossaMaxInFlight | quote }}
SOURCE_DOWNLOAD_CONCURRENCY: {{ .Values.config.sourceDownloadConcurrency | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
LOG_FORMAT: {{ .Values.config.logFormat | quote }}
FORWARDED_ALLOW_IPS: {{ .Values.config.forwardedAllowIps | quote }}
POLL_MIN_INTERVAL_S: {{ .Values.config.pollMinIntervalSeconds | quote }}
POLL_MAX_INTERVAL_S: {{ .Values.config.pollMaxIntervalSeconds | quote }}
RUN_WORKER_IN_API: {{ .Values.config.runWorkerInApi | quote }}
CMS_WEBHOOK_URL: {{ .Values.config.cmsWebhookUrl | quote }}
{{- end }}

{{/* Name of the Secret the api and worker read. */}}
{{- define "valossa-ingest.secretName" -}}
{{- default (include "valossa-ingest.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Name of the Secret the migration hook reads: the existing one, or a hook Secret created just before it. */}}
{{- define "valossa-ingest.migrationsSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrations" (include "valossa-ingest.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Data of a chart-created Secret (values base64-encoded); fails when a required value is missing. */}}
{{- define "valossa-ingest.secretData" -}}
DATABASE_URL: {{ include "valossa-ingest.databaseUrl" . | b64enc | quote }}
{{- $hint := "or name an existing Secret in secrets.existingSecret" }}
{{- $s := .Values.secrets }}
VALOSSA_API_KEY: {{ required (printf "secrets.valossaApiKey is required (%s)" $hint) $s.valossaApiKey | b64enc | quote }}
INGEST_API_TOKENS: {{ required (printf "secrets.ingestApiTokens is required (%s)" $hint) $s.ingestApiTokens | b64enc | quote }}
CALLBACK_SIGNING_SECRET: {{ required (printf "secrets.callbackSigningSecret is required (%s)" $hint) $s.callbackSigningSecret | b64enc | quote }}
{{- if $s.cmsWebhookSecret }}
CMS_WEBHOOK_SECRET: {{ $s.cmsWebhookSecret | b64enc | quote }}
{{- else if .Values.config.cmsWebhookUrl }}
{{- fail (printf "secrets.cmsWebhookSecret is required when config.cmsWebhookUrl is set (make one with `valossa-ingest webhook-secret`, %s)" $hint) }}
{{- end }}
{{- end }}

{{- define "valossa-ingest.databaseUrl" -}}
{{- required "secrets.databaseUrl is required (or name an existing Secret in secrets.existingSecret)" .Values.secrets.databaseUrl }}
{{- end }}

{{/* The secret env vars, each from a key of the Secret .secretName. */}}
{{- define "valossa-ingest.secretEnv" -}}
{{- range $name := list "DATABASE_URL" "VALOSSA_API_KEY" "INGEST_API_TOKENS" "CALLBACK_SIGNING_SECRET" }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secretName }}
      key: {{ $name }}
{{- end }}
- name: CMS_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $.secretName }}
      key: CMS_WEBHOOK_SECRET
      optional: true
{{- end }}

{{/* Volume and mount of the writable /tmp on a read-only root filesystem. */}}
{{- define "valossa-ingest.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "valossa-ingest.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Pod-template annotations that roll the pods when their configuration changes. */}}
{{- define "valossa-ingest.checksums" -}}
checksum/config: {{ include "valossa-ingest.configEnv" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "valossa-ingest.secretData" . | sha256sum }}
{{- end }}
{{- end }}
