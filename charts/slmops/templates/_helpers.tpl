{{/* Names, labels and image references shared by every template. */}}

{{- define "slmops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "slmops.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
"<fullname><suffix>" as a DNS label: the full name is shortened (never the suffix) so that the whole fits 63
characters. Every object name the chart renders comes from here. values.schema.json bounds fullnameOverride and
nameOverride so that an override is never shortened; only a long release name can be. Call with
(dict "ctx" $ "suffix" "-operator-metrics").
*/}}
{{- define "slmops.nameWithSuffix" -}}
{{- $base := include "slmops.fullname" .ctx | trunc (int (sub 63 (len .suffix))) | trimSuffix "-" -}}
{{- printf "%s%s" $base .suffix -}}
{{- end -}}

{{- define "slmops.operatorName" -}}{{ include "slmops.nameWithSuffix" (dict "ctx" . "suffix" "-operator") }}{{- end -}}
{{- define "slmops.exporterName" -}}{{ include "slmops.nameWithSuffix" (dict "ctx" . "suffix" "-exporter") }}{{- end -}}
{{- define "slmops.operatorMetricsName" -}}{{ include "slmops.nameWithSuffix" (dict "ctx" . "suffix" "-operator-metrics") }}{{- end -}}
{{- define "slmops.leaderElectionName" -}}{{ include "slmops.nameWithSuffix" (dict "ctx" . "suffix" "-operator-leader-election") }}{{- end -}}

{{- define "slmops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "slmops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: slmops
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "operator"). */}}
{{- define "slmops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slmops.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "slmops.componentLabels" -}}
{{ include "slmops.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* repository[:tag][@digest]; the tag defaults to the chart's appVersion. Call with (dict "ctx" $ "image" .Values.x.image). */}}
{{- define "slmops.image" -}}
{{- $tag := default .ctx.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "slmops.operatorServiceAccount" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "slmops.operatorName" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "slmops.exporterServiceAccount" -}}
{{- if .Values.exporter.serviceAccount.create -}}
{{- default (include "slmops.exporterName" .) .Values.exporter.serviceAccount.name -}}
{{- else -}}
{{- required "exporter.serviceAccount.name is required when exporter.serviceAccount.create is false" .Values.exporter.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when a monitoring.coreos.com kind should render: enabled true, or auto and the API is served. */}}
{{- define "slmops.monitoringOn" -}}
{{- $v := .value | toString -}}
{{- if eq $v "true" -}}true
{{- else if and (eq $v "auto") (.ctx.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}true
{{- end -}}
{{- end -}}

{{/* Pod securityContext shared by the operator and exporter (restricted Pod Security Standard). */}}
{{- define "slmops.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "slmops.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* A Kubernetes memory quantity (the schema's pattern: 512Mi, 1.5Gi, 536870912, 600M) in MiB, as a float. */}}
{{- define "slmops.memoryMiB" -}}
{{- $q := toString . -}}
{{- $unit := regexFind "[A-Za-z]+$" $q -}}
{{- $bytes := dict "" 1.0 "k" 1e3 "Ki" 1024.0 "M" 1e6 "Mi" 1048576.0 "G" 1e9 "Gi" 1073741824.0 "T" 1e12 "Ti" 1099511627776.0 -}}
{{- divf (mulf (trimSuffix $unit $q | float64) (get $bytes $unit)) 1048576.0 -}}
{{- end -}}

{{/* Who may scrape metrics, as a NetworkPolicy peer list. */}}
{{- define "slmops.metricsFrom" -}}
- namespaceSelector:
    {{- if .Values.networkPolicies.metricsNamespaceSelector }}
    matchLabels:
      {{- toYaml .Values.networkPolicies.metricsNamespaceSelector | nindent 6 }}
    {{- else }} {}
    {{- end }}
{{- end -}}
