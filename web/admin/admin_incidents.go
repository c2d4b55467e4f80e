package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// The incidents pages: the list with a form to open one, and each one with
// its timeline and a form to post an update or a private note.

type incidentRow struct {
	ID, Href, Title         string
	State                   nightowl.IncidentState
	Impact                  nightowl.Impact
	Components              string
	Created, Updated, Ended *stamp
	CreatedBy               string
	Open                    bool
	// Published is when it went on the status page; nil while it is
	// known only to staff.
	Published *stamp
}

func incidentHref(id string) string { return "/admin/incidents/" + url.PathEscape(id) }

func toIncidentRow(inc nightowl.Incident) incidentRow {
	return incidentRow{ID: inc.ID, Href: incidentHref(inc.ID), Title: inc.Title, State: inc.State, Impact: inc.Impact,
		Components: strings.Join(inc.Components, ", "), Created: at(inc.CreatedAt), Updated: at(inc.UpdatedAt),
		Ended: at(inc.ResolvedAt), CreatedBy: inc.CreatedBy, Open: inc.State != nightowl.IncidentResolved,
		Published: at(inc.PublishedAt)}
}

// incidentForm is what a form was filled with, to show again when it is
// refused.
type incidentForm struct {
	Title, Message string
	Impact         nightowl.Impact
	State          nightowl.IncidentState
	Components     []string
	ComponentsText string
	Public         bool
}

// componentChoice is a component the form offers, and whether it is
// chosen.
type componentChoice struct {
	Name    string
	ID      string
	Checked bool
}

type incidentsPage struct {
	Open, Recent []incidentRow
	Form         incidentForm
	Components   []componentChoice // empty when the names are not known: a text field then
	Impacts      []nightowl.Impact
}

var (
	impacts        = []nightowl.Impact{nightowl.ImpactNone, nightowl.ImpactMinor, nightowl.ImpactMajor, nightowl.ImpactCritical}
	incidentStates = []nightowl.IncidentState{nightowl.IncidentInvestigating, nightowl.IncidentIdentified,
		nightowl.IncidentMonitoring, nightowl.IncidentResolved}
)

// componentChoices lists the configured components, from what the status
// page shows, with those in chosen checked.
func (a *pages) componentChoices(r *http.Request, chosen []string) []componentChoice {
	if a.components == nil {
		return nil
	}
	names, err := a.components(r.Context())
	if err != nil {
		a.log.Error("read the components", "err", err)
		return nil
	}
	var out []componentChoice
	for _, name := range names {
		out = append(out, componentChoice{Name: name, ID: "c-" + kit.ComponentID(name), Checked: slices.Contains(chosen, name)})
	}
	return out
}

func (a *pages) showIncidents(w http.ResponseWriter, r *http.Request, status int, errText string, f incidentForm) {
	open, err := a.incidents.List(r.Context(), nightowl.IncidentQuery{Open: true, Limit: 200})
	if err != nil {
		a.fail(w, r, "Incidents", err)
		return
	}
	recent, err := a.incidents.List(r.Context(), nightowl.IncidentQuery{Limit: 50})
	if err != nil {
		a.fail(w, r, "Incidents", err)
		return
	}
	p := incidentsPage{Form: f, Impacts: impacts, Components: a.componentChoices(r, f.Components)}
	for _, inc := range open {
		p.Open = append(p.Open, toIncidentRow(inc))
	}
	for _, inc := range recent {
		if inc.State == nightowl.IncidentResolved {
			p.Recent = append(p.Recent, toIncidentRow(inc))
		}
	}
	a.render(w, r, status, "admin_incidents.html", &adminPage{Title: "Incidents", Section: "incidents", Error: errText, Data: p})
}

func (a *pages) adminIncidents(w http.ResponseWriter, r *http.Request) {
	a.showIncidents(w, r, http.StatusOK, "", incidentForm{Impact: nightowl.ImpactMinor, Public: true})
}

// formComponents reads the affected components: checkboxes when the form
// offered them, else a comma-separated field.
func formComponents(r *http.Request) []string {
	r.ParseForm()
	if list := r.PostForm["components"]; len(list) > 0 {
		return list
	}
	return splitCommas(r.PostFormValue("components_text"))
}

func splitCommas(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (a *pages) adminOpenIncident(w http.ResponseWriter, r *http.Request) {
	f := incidentForm{Title: strings.TrimSpace(r.PostFormValue("title")), Message: strings.TrimSpace(r.PostFormValue("message")),
		Impact: nightowl.Impact(r.PostFormValue("impact")), Components: formComponents(r),
		ComponentsText: r.PostFormValue("components_text"), Public: r.PostFormValue("public") != ""}
	err := kit.CheckTexts(kit.Field("title", f.Title, kit.LineText), kit.Field("message", f.Message, kit.LinesText))
	var inc nightowl.Incident
	if err == nil {
		inc, err = a.incidents.Open(r.Context(), f.Title, f.Impact, f.Components, f.Message, f.Public, kit.Actor(r))
	}
	if err != nil {
		a.showIncidents(w, r, kit.StatusOf(err), "Could not open the incident: "+nightowl.ErrorMessage(err), f)
		return
	}
	u, _ := url.Parse(incidentHref(inc.ID))
	u.RawQuery = url.Values{"done": {"incident-open"}, "what": {inc.ID}}.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

type incidentPage struct {
	Incident   incidentRow
	Updates    []updateRow
	Timeline   []timelineRow
	Form       incidentForm
	States     []nightowl.IncidentState
	Impacts    []nightowl.Impact
	Postmortem string
}

type updateRow struct {
	Time    *stamp
	By      string
	Public  bool
	State   nightowl.IncidentState
	Impact  nightowl.Impact
	Message string
}

type timelineRow struct {
	Time                  *stamp
	Kind, Check, By, Text string
	Public                bool
	CheckHref             string
}

func (a *pages) showIncident(w http.ResponseWriter, r *http.Request, status int, errText string, f *incidentForm) {
	id := r.PathValue("id")
	inc, ups, err := a.incidents.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, "Incident "+id, err)
		return
	}
	tl, err := a.incidents.Timeline(r.Context(), inc.ID)
	if err != nil {
		a.fail(w, r, "Incident "+id, err)
		return
	}
	p := incidentPage{Incident: toIncidentRow(inc), States: incidentStates, Impacts: impacts,
		Postmortem: "/api/v1/incidents/" + url.PathEscape(inc.ID) + "/postmortem"}
	if f != nil {
		p.Form = *f
	} else {
		p.Form = incidentForm{State: inc.State, Impact: inc.Impact}
	}
	// Newest first: the latest word is what a reader wants.
	for i := len(ups) - 1; i >= 0; i-- {
		u := ups[i]
		p.Updates = append(p.Updates, updateRow{Time: at(u.Time), By: u.By, Public: u.Public, State: u.State, Impact: u.Impact, Message: u.Message})
	}
	for _, e := range tl {
		row := timelineRow{Time: at(e.Time), Kind: e.Kind, Check: e.Check, By: e.By, Text: e.Text, Public: e.Public}
		if e.Check != "" {
			row.CheckHref = checkHref(e.Check)
		}
		p.Timeline = append(p.Timeline, row)
	}
	a.render(w, r, status, "admin_incident.html", &adminPage{Title: inc.ID + " " + inc.Title, Section: "incidents", Error: errText, Data: p})
}

func (a *pages) adminIncident(w http.ResponseWriter, r *http.Request) {
	a.showIncident(w, r, http.StatusOK, "", nil)
}

func (a *pages) adminUpdateIncident(w http.ResponseWriter, r *http.Request) {
	f := incidentForm{Message: strings.TrimSpace(r.PostFormValue("message")),
		State: nightowl.IncidentState(r.PostFormValue("state")), Impact: nightowl.Impact(r.PostFormValue("impact")),
		Public: r.PostFormValue("visibility") == "public"}
	// The form shows the state and impact as they were: an update that
	// leaves them so changes neither.
	u := nightowl.IncidentUpdate{Message: f.Message, Public: f.Public, By: kit.Actor(r)}
	if f.State != nightowl.IncidentState(r.PostFormValue("was_state")) {
		u.State = f.State
	}
	if f.Impact != nightowl.Impact(r.PostFormValue("was_impact")) {
		u.Impact = f.Impact
	}
	err := kit.CheckText("message", f.Message, kit.LinesText)
	var inc nightowl.Incident
	if err == nil {
		inc, _, err = a.incidents.Update(r.Context(), r.PathValue("id"), u)
	}
	if err != nil {
		a.showIncident(w, r, kit.StatusOf(err), "Could not post: "+nightowl.ErrorMessage(err), &f)
		return
	}
	to, _ := url.Parse(incidentHref(inc.ID))
	to.RawQuery = url.Values{"done": {"incident-saved"}, "what": {inc.ID}}.Encode()
	http.Redirect(w, r, to.String(), http.StatusSeeOther)
}

func (a *pages) adminPublishIncident(w http.ResponseWriter, r *http.Request) {
	title, message := strings.TrimSpace(r.PostFormValue("title")), strings.TrimSpace(r.PostFormValue("message"))
	// What is published is exactly what is shown to everyone.
	err := kit.CheckTexts(kit.Field("title", title, kit.LineText), kit.Field("message", message, kit.LinesText))
	var inc nightowl.Incident
	if err == nil {
		inc, _, err = a.incidents.Publish(r.Context(), r.PathValue("id"), title, message, kit.Actor(r))
	}
	if err != nil {
		a.showIncident(w, r, kit.StatusOf(err), "Could not publish: "+nightowl.ErrorMessage(err), nil)
		return
	}
	to, _ := url.Parse(incidentHref(inc.ID))
	to.RawQuery = url.Values{"done": {"incident-published"}, "what": {inc.ID}}.Encode()
	http.Redirect(w, r, to.String(), http.StatusSeeOther)
}
