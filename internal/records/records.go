// Package records holds what nightowl's record stores (sqlite, postgres)
// share that has nothing to do with SQL: the checks a record passes before
// it is saved, the JSON in which alerts, incidents, maintenance windows and
// action requests are kept, how scanned columns become domain values, the
// wording of the errors callers see, how many rows a query returns when it
// gives no limit, and how an audit entry joins the chain. Both stores read
// what the other wrote, and callers cannot tell them apart, because there
// is one copy of each.
package records

import (
	"encoding/json"

	"github.com/nightowl/nightowl"
)

// DefaultLimit bounds a list of alerts, notifications, incidents or action
// requests whose query gives no limit.
const DefaultLimit = 100

// The limits below are 0 for every row: each store says so in its own SQL.

// AlertLimit is how many alerts q returns: every open alert, however many,
// since the alerting code loads them all as it starts.
func AlertLimit(q nightowl.AlertQuery) int {
	if q.Open {
		return 0
	}
	return orDefault(q.Limit)
}

// NotificationLimit is how many notifications q returns.
func NotificationLimit(q nightowl.NotificationQuery) int { return orDefault(q.Limit) }

// IncidentLimit is how many incidents q returns: every open incident unless
// q gives a limit, since an alert that fires is matched against them all.
func IncidentLimit(q nightowl.IncidentQuery) int {
	if q.Open && q.Limit <= 0 {
		return 0
	}
	return orDefault(q.Limit)
}

// RequestLimit is how many action requests q returns: every open request
// unless q gives a limit, since there are few and each needs someone.
func RequestLimit(q nightowl.ActionQuery) int {
	if q.Open && q.Limit <= 0 {
		return 0
	}
	return orDefault(q.Limit)
}

func orDefault(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return limit
}

// NotFound is the error for a record the caller named that is not there:
// no alert "a1".
func NotFound(what, id string) error {
	return nightowl.Errorf(nightowl.ENotFound, "no %s %q", what, id)
}

// NoSuch is the error for a record looked up by a secret's hash, which an
// error never repeats: no such token.
func NoSuch(what string) error {
	return nightowl.Errorf(nightowl.ENotFound, "no such %s", what)
}

// Decode reads a record kept whole as its JSON: an alert or an action
// request.
func Decode[T any](data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}
