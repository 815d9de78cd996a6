# Drift detection compares against a reference data set and alerts above a threshold;
# without either it cannot alert at all.
package mlspec.drift

import rego.v1

deny_incomplete := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	monitor := input.tenants[i].monitors[name]
	drift := monitor.spec.drift
	some field in ["threshold", "reference"]
	not drift[field]
	result := {
		"msg": sprintf("drift detection of monitor %s has no %s", [name, field]),
		"object": monitor.source.pointer,
		"field": ["drift", field],
	}
]

# The Kolmogorov-Smirnov statistic and the Jensen-Shannon distance are at most 1.
bounded_methods := {"ks", "js"}

warn_unreachable := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	monitor := input.tenants[i].monitors[name]
	drift := monitor.spec.drift
	drift.method in bounded_methods
	drift.threshold >= 1
	result := {
		"msg": sprintf(
			"drift threshold %v of monitor %s can never be reached: %s is at most 1",
			[drift.threshold, name, drift.method],
		),
		"object": monitor.source.pointer,
		"field": ["drift", "threshold"],
	}
]
