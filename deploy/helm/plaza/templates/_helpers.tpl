{{/* The release's name for everything the chart makes, within Kubernetes' 63 characters. */}}
{{- define "plaza.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "plaza.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (web, worker, migration): pass (list $ "web"). */}}
{{- define "plaza.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "plaza.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "plaza.secretName" -}}
{{- .Values.secret.existingSecret | default (printf "%s-env" (include "plaza.fullname" .)) -}}
{{- end -}}

{{/* The environment every Plaza container gets: the ConfigMap, the Secret, and the chart's own settings. */}}
{{- define "plaza.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "plaza.fullname" . }}-env
  - secretRef:
      name: {{ include "plaza.secretName" . }}
env:
  - name: HOST
    value: "0.0.0.0"
  - name: PORT
    value: "8080"
  - name: DATA_DIR
    value: /var/lib/plaza
{{- end -}}

{{/* Restarts the pods when the configuration the chart makes changes. */}}
{{- define "plaza.configChecksum" -}}
checksum/config: {{ toJson (list .Values.config .Values.secret) | sha256sum }}
{{- end -}}

{{- define "plaza.scratchMounts" -}}
volumeMounts:
  - name: data
    mountPath: /var/lib/plaza
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{- define "plaza.scratchVolumes" -}}
volumes:
  - name: data
    emptyDir:
      sizeLimit: {{ .Values.scratch.dataSizeLimit }}
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.scratch.tmpSizeLimit }}
{{- end -}}

{{/* What every pod spec shares: pull secrets, security, placement, scratch volumes. */}}
{{- define "plaza.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{ include "plaza.scratchVolumes" . }}
{{- end -}}
