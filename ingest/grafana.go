package ingest

import "encoding/json"

// grafanaBody is Grafana alerting's webhook contact point payload:
// Alertmanager's shape (version "1" there), plus a title, a state, a
// message and the organisation, and per alert the URLs of its dashboard,
// panel and silence form and the values that fired it (amAlert).
type grafanaBody struct {
	Version string          `json:"version"`
	Status  string          `json:"status"`
	OrgID   json.Number     `json:"orgId"`
	Title   string          `json:"title"`
	State   string          `json:"state"`
	Message string          `json:"message"`
	Alerts  json.RawMessage `json:"alerts"`
}

// ParseGrafana reads Grafana alerting's webhook payload. Each alert is
// keyed by its fingerprint as for Alertmanager; its link is its panel's or
// dashboard's URL when Grafana gives one, and its values are added to the
// description.
func ParseGrafana(body []byte) ([]Alert, error) {
	var b grafanaBody
	if err := decode(body, &b, "", false); err != nil {
		return nil, err
	}
	return parseAM(b.Alerts, true)
}
