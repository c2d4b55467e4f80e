package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Alerter is what the alert endpoints need from the running server.
type Alerter interface {
	// AlertStore reads alerts and their notifications.
	AlertStore() AlertReader
	// Ack acknowledges an alert on behalf of by; acked is false when it
	// was acknowledged already, and the alert says by whom and when.
	Ack(ctx context.Context, id, by string) (al nightowl.Alert, acked bool, err error)
	// VerifyAckLink checks the signature and expiry of an acknowledgement
	// link's query for the alert.
	VerifyAckLink(id string, q url.Values) error
}

// limitParam reads ?limit=, from 1 to 1000; def when absent.
func limitParam(r *http.Request, def int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, nightowl.Errorf(nightowl.EInvalid, "limit must be a number from 1 to 1000")
	}
	return n, nil
}

func (a *api) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := nightowl.AlertQuery{Check: r.URL.Query().Get("check")}
	switch s := r.URL.Query().Get("state"); s {
	case "", "all":
	case "open":
		q.Open = true
	default:
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "state must be open or all, not %q", s))
		return
	}
	var err error
	if q.Limit, err = limitParam(r, 100); err != nil {
		kit.WriteError(w, err)
		return
	}
	alerts, err := a.alerts.AlertStore().Alerts(r.Context(), q)
	if err != nil {
		a.log.Error("read alerts", "err", err)
		kit.WriteError(w, err)
		return
	}
	out := make([]AlertJSON, len(alerts))
	for i, al := range alerts {
		out[i] = alertJSON(al)
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

// AlertJSON is how the API shows an alert: the alert, and for one that
// another tool sent in, the integration it came from and its key there.
type AlertJSON struct {
	nightowl.Alert
	Source *AlertSource `json:"source,omitempty"`
}

// AlertSource names the integration an ingested alert came from, and the
// key (fingerprint, dedup_key) it has there.
type AlertSource struct {
	Integration string `json:"integration"`
	Key         string `json:"key"`
}

func alertJSON(al nightowl.Alert) AlertJSON {
	out := AlertJSON{Alert: al}
	if in, key, ok := ingest.Split(al.Check); ok {
		out.Source = &AlertSource{Integration: in, Key: key}
	}
	return out
}

func (a *api) getAlert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	al, err := a.alerts.AlertStore().Alert(r.Context(), id)
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	ns, err := a.alerts.AlertStore().Notifications(r.Context(), nightowl.NotificationQuery{AlertID: id, Limit: 1000})
	if err != nil {
		a.log.Error("read notifications", "alert", id, "err", err)
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"alert": alertJSON(al), "notifications": notificationsJSON(ns)})
}

// NotificationJSON is how the API shows a notification: what was sent, to
// whom, and how it went, without repeating the alert it is about.
type NotificationJSON struct {
	ID        int64                      `json:"id"`
	AlertID   string                     `json:"alert_id"`
	Check     string                     `json:"check"`
	Receiver  string                     `json:"receiver"`
	Kind      nightowl.MessageKind       `json:"kind"`
	State     nightowl.NotificationState `json:"state"`
	Attempts  int                        `json:"attempts"`
	CreatedAt time.Time                  `json:"created_at"`
	NextAt    time.Time                  `json:"next_at,omitzero"`
	SentAt    time.Time                  `json:"sent_at,omitzero"`
	Error     string                     `json:"error,omitempty"`
}

func notificationsJSON(ns []nightowl.Notification) []NotificationJSON {
	out := make([]NotificationJSON, len(ns))
	for i, n := range ns {
		out[i] = NotificationJSON{
			ID: n.ID, AlertID: n.AlertID, Check: n.Message.Alert.Check, Receiver: n.Receiver,
			Kind: n.Message.Kind, State: n.State, Attempts: n.Attempts,
			CreatedAt: n.CreatedAt, NextAt: n.NextAt, SentAt: n.SentAt, Error: n.Error,
		}
	}
	return out
}

func (a *api) listNotifications(w http.ResponseWriter, r *http.Request) {
	q := nightowl.NotificationQuery{AlertID: r.URL.Query().Get("alert")}
	switch s := nightowl.NotificationState(r.URL.Query().Get("state")); s {
	case "", nightowl.NotificationPending, nightowl.NotificationSent, nightowl.NotificationFailed, nightowl.NotificationCancelled:
		q.State = s
	default:
		kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "state must be pending, sent, failed or cancelled, not %q", s))
		return
	}
	var err error
	if q.Limit, err = limitParam(r, 100); err != nil {
		kit.WriteError(w, err)
		return
	}
	ns, err := a.alerts.AlertStore().Notifications(r.Context(), q)
	if err != nil {
		a.log.Error("read notifications", "err", err)
		kit.WriteError(w, err)
		return
	}
	kit.WriteJSON(w, http.StatusOK, map[string]any{"notifications": notificationsJSON(ns)})
}

func (a *api) ackAlert(w http.ResponseWriter, r *http.Request) {
	al, acked, err := a.alerts.Ack(r.Context(), r.PathValue("id"), kit.Actor(r))
	if err != nil {
		kit.WriteError(w, err)
		return
	}
	// already: someone acknowledged it before; acked_by and acked_at say
	// who and when.
	kit.WriteJSON(w, http.StatusOK, map[string]any{"alert": al, "already": !acked})
}

// Acknowledgement links are public: whoever holds one may post it, as
// often as they like. Posts are limited per client address (before the
// link is even checked) and per alert, so that a leaked link cannot flood
// the server or its audit log.
const (
	ackAddrBurst = 30
	ackAddrEvery = 2 * time.Second // 30 at once, then one every 2s
	ackIDBurst   = 10
	ackIDEvery   = 6 * time.Second // 10 at once, then one every 6s
	ackMaxKeys   = kit.MaxKeys
)

type ackLimits struct{ addr, alert *kit.Buckets }

func newAckLimits() *ackLimits {
	return &ackLimits{addr: kit.NewBuckets(ackAddrBurst, ackAddrEvery, ackMaxKeys), alert: kit.NewBuckets(ackIDBurst, ackIDEvery, ackMaxKeys)}
}

// The acknowledgement link opens a page with one button rather than
// acknowledging on GET: mail scanners and chat previews fetch links, and
// must not acknowledge an alert nobody has seen.
var ackTemplate = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – nightowl</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
@media (prefers-color-scheme:dark){body{color:#eee;background:#121212}}
button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.4rem;background:#b3261e;color:#fff;cursor:pointer}
button:focus{outline:3px solid #f4b400;outline-offset:2px}
input{font:inherit;padding:.5rem;border:1px solid #888;border-radius:.4rem;box-sizing:border-box;width:100%;max-width:20rem}
label{display:block}
@media (max-width:30rem){body{margin:1.5rem auto}button{width:100%;min-height:3rem}input{max-width:none}}
.error{color:#b3261e}
</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert"{{if .Code}} data-code="{{.Code}}"{{end}}>{{.Error}}</p>
{{else if .Already}}<p role="status">Already acknowledged by {{.By}} at {{.At}}: escalation has stopped for alert {{.ID}}{{if .Check}} on {{.Check}}{{end}}.</p>
{{else if .Done}}<p role="status">Acknowledged: escalation has stopped for alert {{.ID}}{{if .Check}} on {{.Check}}{{end}}.</p>
{{else}}<p>Alert {{.ID}}{{if .Check}} on <strong>{{.Check}}</strong>{{end}}. Acknowledging stops its escalation and tells everyone notified so far.</p>
<form method="post"><label>Your name (optional) <input name="by" maxlength="64" autocomplete="name"></label>
<p><button type="submit">Acknowledge</button></p></form>{{end}}
</main></body></html>
`))

type ackPageData struct {
	Title, ID, Check, Error string
	// Code is the error's code, for scripts that post links.
	Code string
	Done bool
	// Already: someone acknowledged the alert before, By at At.
	Already bool
	By, At  string
}

func (d *ackPageData) already(al nightowl.Alert) {
	d.Already, d.By = true, al.AckedBy
	if !al.AckedAt.IsZero() {
		d.At = al.AckedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
}

func (a *api) renderAck(w http.ResponseWriter, status int, d ackPageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(status)
	ackTemplate.Execute(w, d)
}

// verifyLink refuses a forged or expired link with a page that says which;
// it says nothing about the alert, which whoever holds a bad link may not
// see.
func (a *api) verifyLink(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := a.alerts.VerifyAckLink(id, r.URL.Query()); err != nil {
		a.renderAck(w, http.StatusForbidden, ackPageData{Title: "Link refused", Error: err.Error()})
		return "", false
	}
	return id, true
}

func (a *api) ackPage(w http.ResponseWriter, r *http.Request) {
	id, ok := a.verifyLink(w, r)
	if !ok {
		return
	}
	d := ackPageData{Title: "Acknowledge alert", ID: id}
	al, err := a.alerts.AlertStore().Alert(r.Context(), id)
	if err != nil {
		a.renderAck(w, http.StatusNotFound, ackPageData{Title: "Acknowledge alert", Error: nightowl.ErrorMessage(err)})
		return
	}
	d.Check = al.Check
	switch al.State {
	case nightowl.AlertAcknowledged:
		d.already(al)
	case nightowl.AlertResolved:
		d.Error = "This alert has already resolved."
	}
	a.renderAck(w, http.StatusOK, d)
}

func (a *api) ackByLink(w http.ResponseWriter, r *http.Request) {
	now := a.clock.Now()
	if wait, ok := a.ackLimit.addr.Take(nightowl.ClientKey(a.clientAddr(r)), now); !ok {
		a.ackRefused(w, ackPageData{Title: "Acknowledge alert"}, kit.TooMany(wait, "too many acknowledgements from your address"))
		return
	}
	id, ok := a.verifyLink(w, r)
	if !ok {
		return
	}
	d := ackPageData{Title: "Acknowledge alert", ID: id}
	if wait, ok := a.ackLimit.alert.Take(id, now); !ok {
		a.ackRefused(w, d, kit.TooMany(wait, "too many acknowledgements of this alert"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	by := strings.TrimSpace(r.PostFormValue("by"))
	if err := kit.CheckText("by", by, kit.ByText); err != nil {
		a.ackRefused(w, d, err)
		return
	}
	if by == "" {
		by = "acknowledgement link"
	} else {
		by += " (link)"
	}
	al, acked, err := a.alerts.Ack(r.Context(), id, by)
	d.Check = al.Check
	if err != nil {
		a.ackRefused(w, d, err)
		return
	}
	if acked {
		d.Done = true
	} else {
		d.already(al)
	}
	a.renderAck(w, http.StatusOK, d)
}

// ackRefused shows the acknowledgement page with why it was refused, with
// the status and Retry-After the API would give.
func (a *api) ackRefused(w http.ResponseWriter, d ackPageData, err error) {
	status := kit.StatusOf(err)
	kit.SetRetryAfter(w, err)
	d.Error, d.Code = nightowl.ErrorMessage(err), nightowl.ErrorCode(err)
	a.renderAck(w, status, d)
}
