package ingest

import (
	"encoding/json"
	"fmt"
)

// genericAlert is one alert of the generic format, nightowl's own
// (docs/integrations.md).
type genericAlert struct {
	Title       string            `json:"title"`
	Severity    string            `json:"severity"`
	Labels      map[string]string `json:"labels"`
	DedupKey    string            `json:"dedup_key"`
	State       string            `json:"state"`
	Description string            `json:"description"`
	URL         string            `json:"url"`
}

// ParseGeneric reads the generic format: one alert object, or
// {"alerts": [...]} for several. Fields it does not know are refused, so
// that a misspelt dedup_key is not quietly a new alert every time. state
// is firing (the default) or resolved; severity critical (the default),
// warning or info; a firing alert needs a title.
func ParseGeneric(body []byte) ([]Alert, error) {
	var top map[string]json.RawMessage
	if err := decode(body, &top, "", false); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, invalid("", "must be an alert object, or {\"alerts\": [...]}")
	}
	raw, batch := top["alerts"]
	if !batch {
		a, err := genericOne(body, "")
		if err != nil {
			return nil, err
		}
		return []Alert{a}, nil
	}
	if len(top) > 1 {
		for k := range top {
			if k != "alerts" {
				return nil, invalid(k, "unknown field: a batch has only alerts")
			}
		}
	}
	list, err := alertList("alerts", raw)
	if err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(list))
	for i, r := range list {
		a, err := genericOne(r, fmt.Sprintf("alerts[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func genericOne(raw []byte, field string) (Alert, error) {
	var g genericAlert
	var out Alert
	if err := decode(raw, &g, field, true); err != nil {
		return out, err
	}
	var err error
	if g.State == "" {
		out.Firing = true
	} else if out.Firing, err = status(join(field, "state"), g.State); err != nil {
		return out, err
	}
	if err := key(join(field, "dedup_key"), g.DedupKey); err != nil {
		return out, err
	}
	switch s := Severity(g.Severity); s {
	case "":
		out.Severity = Critical
	case Critical, Warning, Info:
		out.Severity = s
	default:
		return out, invalid(join(field, "severity"), "must be critical, warning or info, not %.32q", g.Severity)
	}
	if out.Firing && g.Title == "" {
		return out, invalid(join(field, "title"), "required for a firing alert")
	}
	if out.Labels, err = labels(join(field, "labels"), g.Labels); err != nil {
		return out, err
	}
	out.Key, out.Title = g.DedupKey, oneLine(g.Title, MaxTitle)
	if out.Title == "" {
		out.Title = oneLine(g.DedupKey, MaxTitle)
	}
	out.Description, out.URL = cut(g.Description, MaxDescription), g.URL
	return out, nil
}
