package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nightowl/nightowl"
)

// incidentBody is how the API answers a change to an incident.
type incidentBody struct {
	Incident nightowl.Incident       `json:"incident"`
	Update   nightowl.IncidentUpdate `json:"update"`
}

func incidentOpen(e *env, fs *flag.FlagSet) runner {
	title := fs.String("title", "", "what customers are told is wrong, such as \"Checkout fails\"")
	impact := fs.String("impact", "major", "none, minor, major or critical")
	comps := fs.String("components", "", "the affected components, comma-separated (Website,Database)")
	message := fs.String("message", "", "the first update")
	private := fs.Bool("private", false, "make the first message a private note, not a public update")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		if rest, err := parse(fs, args); err != nil || len(rest) > 0 {
			if err == nil {
				fmt.Fprintf(e.stderr, "nightowl incident open: unexpected %q (quote a title with spaces)\n", rest[0])
			}
			return exitBadConfig
		}
		if strings.TrimSpace(*title) == "" {
			fmt.Fprintln(e.stderr, "nightowl incident open: --title is required, as in\n  nightowl incident open --title \"Checkout fails\" --components Website --message \"We are looking into it.\"")
			return exitBadConfig
		}
		req := map[string]any{
			"title": *title, "impact": *impact, "components": splitList(*comps),
			"message": *message, "public": !*private,
		}
		var body incidentBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/incidents", req, &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl incident open:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		inc := body.Incident
		fmt.Fprintf(e.stdout, "incident %s opened: %s (%s, impact %s)\nupdate it with: nightowl incident update %s --state identified --message ...\n",
			inc.ID, cell(inc.Title), inc.State, inc.Impact, inc.ID)
		return exitOK
	}
}

// incidentUpdate posts an update, and incidentResolve one that resolves.
func incidentUpdate(e *env, fs *flag.FlagSet) runner { return incidentChange(e, fs, false) }

func incidentResolve(e *env, fs *flag.FlagSet) runner { return incidentChange(e, fs, true) }

func incidentChange(e *env, fs *flag.FlagSet, resolve bool) runner {
	name := fs.Name()
	message := fs.String("message", "", "what to say")
	var state, impact, comps *string
	private := new(bool)
	if !resolve {
		state = fs.String("state", "", "investigating, identified, monitoring or resolved (default: unchanged)")
		impact = fs.String("impact", "", "none, minor, major or critical (default: unchanged)")
		comps = fs.String("components", "", "the affected components, comma-separated (default: unchanged)")
		private = fs.Bool("private", false, "a private note, not shown on the status page")
	}
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintf(e.stderr, "nightowl %s: name one incident (nightowl incident list shows them)\n", name)
			return exitBadConfig
		}
		req := map[string]any{"message": *message, "public": !*private}
		if resolve {
			// Resolving says so on the status page only for an incident
			// that is on it: it does not publish one that is not.
			var cur struct {
				Incident nightowl.Incident `json:"incident"`
			}
			if _, err := apiGet(ctx, e, "/api/v1/incidents/"+url.PathEscape(ids[0]), &cur); err != nil {
				fmt.Fprintf(e.stderr, "nightowl %s %s: %v\n", name, ids[0], err)
				return exitNotUp
			}
			req["public"] = cur.Incident.Published()
			req["state"] = nightowl.IncidentResolved
			if *message == "" {
				req["message"] = "This incident has been resolved."
			}
		} else {
			if strings.TrimSpace(*message) == "" {
				fmt.Fprintf(e.stderr, "nightowl %s: --message is required, as in\n  nightowl incident update %s --state identified --message \"We found the cause.\"\n", name, ids[0])
				return exitBadConfig
			}
			req["state"], req["impact"] = *state, *impact
			if *comps != "" {
				req["components"] = splitList(*comps)
			}
		}
		var body incidentBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/incidents/"+url.PathEscape(ids[0])+"/updates", req, &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl %s %s: %v\n", name, ids[0], err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		inc, kind := body.Incident, "public update"
		if !body.Update.Public {
			kind = "private note"
		}
		if resolve {
			fmt.Fprintf(e.stdout, "incident %s resolved; write its postmortem with: nightowl incident postmortem %s\n", inc.ID, inc.ID)
			return exitOK
		}
		fmt.Fprintf(e.stdout, "%s added to incident %s (%s, impact %s)\n", kind, inc.ID, inc.State, inc.Impact)
		return exitOK
	}
}

// incidentPublish puts an incident on the status page, with a public
// update when --message is given.
func incidentPublish(e *env, fs *flag.FlagSet) runner {
	title := fs.String("title", "", "the title to publish it under (default: the one it has)")
	message := fs.String("message", "", "a public update to publish it with (default: none, the incident as it stands)")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintln(e.stderr, "nightowl incident publish: name one incident (nightowl incident list shows them)")
			return exitBadConfig
		}
		req := map[string]any{"title": *title, "message": *message}
		var body incidentBody
		raw, err := apiDo(ctx, e, "POST", "/api/v1/incidents/"+url.PathEscape(ids[0])+"/publish", req, &body)
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl incident publish %s: %v\n", ids[0], err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		inc := body.Incident
		fmt.Fprintf(e.stdout, "incident %s is on the status page: %s (%s, impact %s)\n", inc.ID, cell(inc.Title), inc.State, inc.Impact)
		return exitOK
	}
}

func incidentList(e *env, fs *flag.FlagSet) runner {
	all := fs.Bool("all", false, "resolved incidents too, not only open ones")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, args []string) int {
		if rest, err := parse(fs, args); err != nil || len(rest) > 0 {
			if err == nil {
				fmt.Fprintf(e.stderr, "nightowl incident list: unexpected %q\n", rest[0])
			}
			return exitBadConfig
		}
		path := "/api/v1/incidents?state=open"
		if *all {
			path = "/api/v1/incidents"
		}
		var body struct {
			Incidents []nightowl.Incident `json:"incidents"`
		}
		raw, err := apiGet(ctx, e, path, &body)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl incident list:", err)
			return exitNotUp
		}
		if *asJSON {
			e.stdout.Write(raw)
			return exitOK
		}
		if len(body.Incidents) == 0 {
			if *all {
				fmt.Fprintln(e.stdout, "no incidents")
			} else {
				fmt.Fprintln(e.stdout, "no open incidents")
			}
			return exitOK
		}
		tw := newTable(e.stdout, "ID", "STATE", "IMPACT", "PUBLIC", "OPENED", "BY", "COMPONENTS", "TITLE")
		for _, inc := range body.Incidents {
			comps := strings.Join(inc.Components, ",")
			if comps == "" {
				comps = "-"
			}
			public := "no"
			if inc.Published() {
				public = "yes"
			}
			tw.row(inc.ID, inc.State, inc.Impact, public, inc.CreatedAt.Local().Format("2006-01-02 15:04"), inc.CreatedBy, comps, inc.Title)
		}
		tw.flush()
		return exitOK
	}
}

func incidentPostmortem(e *env, fs *flag.FlagSet) runner {
	out := fs.String("o", "", "write the draft to this `file` rather than to standard output")
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) != 1 {
			fmt.Fprintln(e.stderr, "nightowl incident postmortem: name one incident (nightowl incident list --all shows them)")
			return exitBadConfig
		}
		md, err := apiText(ctx, e, "/api/v1/incidents/"+url.PathEscape(ids[0])+"/postmortem")
		if err != nil {
			fmt.Fprintf(e.stderr, "nightowl incident postmortem %s: %v\n", ids[0], err)
			return exitNotUp
		}
		if *out == "" {
			e.stdout.Write(md)
			return exitOK
		}
		if err := os.WriteFile(*out, md, 0o644); err != nil {
			fmt.Fprintf(e.stderr, "nightowl incident postmortem %s: %v\n", ids[0], err)
			return exitNotUp
		}
		fmt.Fprintf(e.stdout, "postmortem draft of %s written to %s\n", ids[0], *out)
		return exitOK
	}
}

// apiText gets a document that is not JSON, such as a postmortem. apiDo
// returns the body of every answer that succeeded, whether or not it then
// decodes as JSON, and no body otherwise.
func apiText(ctx context.Context, e *env, path string) ([]byte, error) {
	raw, err := apiDo(ctx, e, "GET", path, nil, nil)
	if raw != nil {
		return raw, nil
	}
	return nil, err
}
