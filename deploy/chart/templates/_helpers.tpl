{{- define "cluster-ipam.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cluster-ipam.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "cluster-ipam.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "cluster-ipam.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cluster-ipam.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cluster-ipam.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cluster-ipam.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cluster-ipam.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cluster-ipam
{{- end }}

{{- define "cluster-ipam.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cluster-ipam.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cluster-ipam.webhookServiceName" -}}
{{- printf "%s-webhook" (include "cluster-ipam.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cluster-ipam.webhookSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "cluster-ipam.fullname" .)) .Values.webhook.secretName }}
{{- end }}

{{- define "cluster-ipam.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "cluster-ipam.defaultInfobloxInstance" -}}
{{- if .Values.infoblox.defaultInstanceName }}
{{- .Values.infoblox.defaultInstanceName }}
{{- else if .Values.infoblox.defaultInstance.create }}
{{- .Values.infoblox.defaultInstance.name }}
{{- end }}
{{- end }}
