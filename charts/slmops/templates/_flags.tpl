{{/*
The flags the chart itself sets on the operator's and the exporter's command lines, one table per component:
each entry names the flag, the value it comes from ("from", quoted in refusals) and, when the chart renders it
with these values, its "value" (or "values" for a repeated flag). The containers' args are rendered from these
tables, and an extraArgs entry that sets any flag of its table is refused (slmops.refuseOwnFlags): a flag the
chart sets is changed through its value, never overridden (e.g. --leader-elect=false under two replicas).
*/}}

{{- define "slmops.operatorFlags" -}}
{{- $o := .Values.operator -}}
- flag: namespace
  from: operator.watchNamespace
  {{- with $o.watchNamespace }}
  value: {{ . | quote }}
  {{- end }}
- flag: leader-elect
  from: operator.leaderElection.enabled
  value: {{ $o.leaderElection.enabled | toString | quote }}
- flag: leader-election-id
  from: operator.leaderElection.id
  {{- if $o.leaderElection.enabled }}
  value: {{ $o.leaderElection.id | quote }}
  {{- end }}
- flag: leader-election-namespace
  from: the release namespace
  {{- if $o.leaderElection.enabled }}
  value: {{ .Release.Namespace | quote }}
  {{- end }}
- flag: metrics-bind-address
  from: operator.metricsPort
  value: {{ printf ":%v" $o.metricsPort | quote }}
- flag: health-probe-bind-address
  from: operator.healthPort
  value: {{ printf ":%v" $o.healthPort | quote }}
- flag: sidecar-image
  from: sidecar.image
  value: {{ include "slmops.image" (dict "ctx" . "image" .Values.sidecar.image) | quote }}
- flag: plugins
  from: plugins.enabled
  value: {{ join "," .Values.plugins.enabled | quote }}
- flag: max-concurrent-reconciles
  from: operator.maxConcurrentReconciles
  value: {{ $o.maxConcurrentReconciles | toString | quote }}
- flag: resync-period
  from: operator.resyncPeriod
  value: {{ $o.resyncPeriod | quote }}
- flag: log-format
  from: operator.logFormat
  value: {{ $o.logFormat | quote }}
{{- end -}}

{{/* Where the exporter container sees the host's model cache (exporter.modelCacheDir). */}}
{{- define "slmops.exporterModelCacheMount" -}}/var/lib/slmops/models{{- end -}}

{{- define "slmops.exporterFlags" -}}
{{- $e := .Values.exporter -}}
- flag: metrics-bind-address
  from: exporter.port
  value: {{ printf ":%v" $e.port | quote }}
- flag: model-cache-dir
  from: exporter.modelCacheDir
  value: {{ include "slmops.exporterModelCacheMount" . | quote }}
- flag: node-cost-per-hour
  from: exporter.nodeCostPerHour
  value: {{ $e.nodeCostPerHour | toString | quote }}
- flag: plugins
  from: plugins.enabled
  value: {{ join "," .Values.plugins.enabled | quote }}
- flag: sidecar-metrics-url
  from: exporter.sidecarMetricsUrls
  values: {{ $e.sidecarMetricsUrls | default list | toJson }}
- flag: sysfs-root
  from: exporter.hostSysfs
  {{- if $e.hostSysfs }}
  value: /host/sys
  {{- end }}
- flag: procfs-root
  from: exporter.hostProcfs
  {{- if $e.hostProcfs }}
  value: /host/proc
  {{- end }}
{{- end -}}

{{/* A flag table as a YAML list of container args, "--flag=value" each. Call with the parsed table. */}}
{{- define "slmops.renderFlags" -}}
{{- range . }}
{{- $flag := .flag }}
{{- if hasKey . "value" }}
- {{ printf "--%s=%s" $flag .value | quote }}
{{- end }}
{{- range .values }}
- {{ printf "--%s=%s" $flag . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
One refusal per line for each entry of extraArgs that sets a flag of the table, in any spelling the components'
parsers accept (--flag=value, --flag, and --no-flag should a parser ever take negations); empty when none does.
Call with (dict "flags" $table "extraArgs" $list "path" "operator.extraArgs").
*/}}
{{- define "slmops.ownFlagRefusals" -}}
{{- $owned := dict -}}
{{- range .flags }}{{ $_ := set $owned .flag .from }}{{ end -}}
{{- range $i, $arg := .extraArgs }}
{{- $name := regexReplaceAll "^-+" (toString $arg) "" | regexFind "^[^=[:space:]]*" | trimPrefix "no-" }}
{{- if hasKey $owned $name }}
{{ printf "%s[%d] (%s) sets --%s, which the chart sets from %s: change that value instead of overriding the flag" $.path $i $arg $name (get $owned $name) }}
{{- end }}
{{- end }}
{{- end -}}
