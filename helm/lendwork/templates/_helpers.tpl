{{- define "lendwork.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "lendwork.fullname" -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" }}{{- end -}}
{{- define "lendwork.labels" -}}
app.kubernetes.io/name: {{ include "lendwork.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "lendwork.selector" -}}
app.kubernetes.io/name: {{ include "lendwork.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "lendwork.keysSecret" -}}
{{- if .Values.keys.existingSecret }}{{ .Values.keys.existingSecret }}{{ else }}{{ include "lendwork.fullname" . }}-keys{{ end -}}
{{- end -}}
{{- define "lendwork.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
