package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/email"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/pagerduty"
	"github.com/nightowl/nightowl/notify/receivers"
	"github.com/nightowl/nightowl/notify/slack"
	"github.com/nightowl/nightowl/notify/webhook"
)

const pdKey = "0123456789abcdef0123456789abcdef"

// alerting is the Alerting block of the product contract, with the
// database escalation its first route names (the contract leaves it out)
// written with its steps out of order.
const alerting = `
notify:
  receivers:
    chat: [{slack: {webhook_url: "${SLACK_URL}"}}]
    primary: [{pagerduty: {routing_key_file: /run/secrets/pd}}, {email: {to: [ops@example.com]}}]
    secondary: [{webhook: {url: "https://hooks.example.com/page"}}]
  smtp: {host: smtp.example.com, port: 587, username: nightowl, password_file: /run/secrets/smtp, from: nightowl@example.com}
  routes:                            # first match wins
    - {match: {tier: db}, escalation: database}
    - {escalation: default}
  escalations:
    default:
      steps: [{notify: chat}, {after: 5m, notify: primary}, {after: 15m, notify: secondary}]
      repeat: 30m                    # re-send the last step while unacknowledged
    database:
      steps: [{after: 10m, notify: secondary}, {notify: primary}]
  send_resolved: true
`

func alertingOpts(slackURL, pd, smtpPassword string) Options {
	return Options{
		Getenv: env(map[string]string{"SLACK_URL": slackURL}),
		ReadFile: files(map[string]string{
			"/run/secrets/pd":   pd + "\n",
			"/run/secrets/smtp": smtpPassword + "\n",
		}),
	}
}

func TestNotifyValid(t *testing.T) {
	const slackURL = "https://hooks.slack.com/services/T0/B0/s3cr3t"
	n := mustParse(t, alerting, alertingOpts(slackURL, pdKey, "smtp-pw")).Notify

	t.Run("receivers", func(t *testing.T) {
		want := map[string][]Receiver{
			"chat": {
				{ID: "chat[0]", Group: "chat", Kind: "slack", Spec: &slack.Config{WebhookURL: slackURL}, Pos: Pos{4, 12}},
			},
			"primary": {
				{ID: "primary[0]", Group: "primary", Kind: "pagerduty", Spec: &pagerduty.Config{
					RoutingKey: pdKey, APIURL: pagerduty.DefaultAPIURL, ComponentLabel: "tier", GroupLabel: "site",
				}, Pos: Pos{5, 15}},
				{ID: "primary[1]", Group: "primary", Kind: "email", Spec: &email.Config{To: []string{"ops@example.com"}}, Pos: Pos{5, 65}},
			},
			"secondary": {
				{ID: "secondary[0]", Group: "secondary", Kind: "webhook", Spec: &webhook.Config{URL: "https://hooks.example.com/page"}, Pos: Pos{6, 17}},
			},
		}
		if len(n.Receivers) != len(want) {
			t.Fatalf("%d groups, want %d", len(n.Receivers), len(want))
		}
		for group, list := range want {
			got := n.Receivers[group]
			if len(got) != len(list) {
				t.Fatalf("group %s has %d receivers, want %d", group, len(got), len(list))
			}
			for i, w := range list {
				r := got[i]
				if len(r.Fingerprint) != 64 {
					t.Errorf("%s: Fingerprint = %q", r.ID, r.Fingerprint)
				}
				r.Fingerprint = ""
				if !reflect.DeepEqual(r, w) {
					t.Errorf("%s = %+v\nwant %+v", w.ID, r, w)
				}
				if n.Receiver(w.ID) != &got[i] {
					t.Errorf("Receiver(%q) did not find it", w.ID)
				}
			}
		}
		for _, id := range []string{"primary[2]", "nobody[0]", "chat", ""} {
			if r := n.Receiver(id); r != nil {
				t.Errorf("Receiver(%q) = %+v, want nil", id, r)
			}
		}
	})

	t.Run("smtp", func(t *testing.T) {
		want := &kit.SMTP{Host: "smtp.example.com", Port: 587, Username: "nightowl", Password: "smtp-pw", From: "nightowl@example.com", TLS: "starttls"}
		if !reflect.DeepEqual(n.SMTP, want) {
			t.Errorf("SMTP = %+v, want %+v", n.SMTP, want)
		}
	})

	t.Run("routes", func(t *testing.T) {
		want := []notify.Route{
			{Match: map[string]string{"tier": "db"}, Escalation: "database"},
			{Escalation: "default"},
		}
		if !reflect.DeepEqual(n.Routes, want) {
			t.Errorf("Routes = %+v, want %+v", n.Routes, want)
		}
	})

	t.Run("escalations", func(t *testing.T) {
		want := map[string]*notify.Escalation{
			"default": {Steps: []notify.Step{
				{After: 0, Notify: "chat"},
				{After: 5 * time.Minute, Notify: "primary"},
				{After: 15 * time.Minute, Notify: "secondary"},
			}, Repeat: 30 * time.Minute},
			"database": {Steps: []notify.Step{
				{After: 0, Notify: "primary"},
				{After: 10 * time.Minute, Notify: "secondary"},
			}},
		}
		if !reflect.DeepEqual(n.Escalations, want) {
			t.Errorf("Escalations = %+v, want %+v", n.Escalations, want)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		if !n.SendResolved || n.GiveUpAfter != DefaultGiveUpAfter || n.AckLinkTTL != DefaultAckLinkTTL {
			t.Errorf("SendResolved, GiveUpAfter, AckLinkTTL = %v, %v, %v", n.SendResolved, n.GiveUpAfter, n.AckLinkTTL)
		}
	})
}

func TestNotifyDefaults(t *testing.T) {
	defaults := Notify{SendResolved: true, GiveUpAfter: 24 * time.Hour, AckLinkTTL: 24 * time.Hour}
	tests := []struct {
		name string
		src  string
		want Notify
	}{
		{"no section", "", defaults},
		{"null section", "notify:\n", defaults},
		{"empty section", "notify: {}\n", defaults},
		{"null keys", "notify: {receivers: , smtp: , routes: , escalations: , send_resolved: , give_up_after: , ack_link_ttl: }\n", defaults},
		{"set", "notify: {send_resolved: false, give_up_after: 2h, ack_link_ttl: 90m}\n",
			Notify{SendResolved: false, GiveUpAfter: 2 * time.Hour, AckLinkTTL: 90 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.src, Options{}).Notify
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Notify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSMTPDefaults(t *testing.T) {
	tests := []struct {
		name      string
		smtp      string
		port      int
		tls, from string
	}{
		{"starttls by default", "{host: mx, from: a@example.com}", 587, "starttls", "a@example.com"},
		{"implicit tls", "{host: mx, tls: tls, from: a@example.com}", 465, "tls", "a@example.com"},
		{"plain relay", "{host: localhost, tls: none, port: 25, from: a@example.com}", 25, "none", "a@example.com"},
		{"port as a string", `{host: mx, port: "2525", from: a@example.com}`, 2525, "starttls", "a@example.com"},
		// Every email receiver has its own from.
		{"no from", "{host: mx}", 587, "starttls", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "notify:\n  smtp: " + tt.smtp + `
  receivers: {mail: [{email: {to: [ops@example.com], from: b@example.com}}]}
  routes: [{escalation: e}]
  escalations: {e: {steps: [{notify: mail}]}}
`
			s := mustParse(t, src, Options{}).Notify.SMTP
			if s.Port != tt.port || s.TLS != tt.tls || s.From != tt.from {
				t.Errorf("Port, TLS, From = %d, %q, %q; want %d, %q, %q", s.Port, s.TLS, s.From, tt.port, tt.tls, tt.from)
			}
		})
	}
}

// TestNotifyErrors covers what the invalid-notify-*.yaml files do not:
// the position and wording of problems that depend on how a key is
// written.
func TestNotifyErrors(t *testing.T) {
	const receiversOnly = "notify:\n  receivers: {chat: [{slack: {webhook_url: 'https://hooks.example.com/x'}}]}\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty routes", receiversOnly + "  routes: []\n",
			[]string{"3:11: notify.routes: required when receivers are given: without a route no alert reaches a receiver"}},
		{"null routes", receiversOnly + "  routes:\n",
			[]string{"3:3: notify.routes: required when receivers are given: without a route no alert reaches a receiver"}},
		{"no escalations defined", receiversOnly + "  routes: [{escalation: default}]\n",
			[]string{"3:25: notify.routes[0].escalation: unknown escalation default (notify.escalations defines none)"}},
		{"no groups defined", "notify:\n  escalations: {e: {steps: [{notify: chat}]}}\n",
			[]string{"2:38: notify.escalations.e.steps[0].notify: unknown receiver group chat (notify.receivers defines none)"}},
		{"empty item", "notify:\n  receivers: {chat: [{}]}\n  routes: [{escalation: e}]\n  escalations: {e: {steps: [{notify: chat}]}}\n",
			[]string{"2:22: notify.receivers.chat[0]: one of " + strings.Join(kindNames(), ", ") + " is required"}},
		{"item not a mapping", "notify:\n  receivers: {chat: [slack]}\n  routes: [{escalation: e}]\n  escalations: {e: {steps: [{notify: chat}]}}\n",
			[]string{"2:22: notify.receivers.chat[0]: must be a mapping of a receiver kind to its settings, such as {slack: {webhook_url: ...}}"}},
		{"group not a list", "notify:\n  receivers: {chat: {slack: {}}}\n  routes: [{escalation: e}]\n  escalations: {e: {steps: [{notify: chat}]}}\n",
			[]string{"2:21: notify.receivers.chat: must be a list of receivers, such as [{slack: {webhook_url: ...}}]"}},
		{"smtp not a mapping", "notify:\n  smtp: smtp.example.com\n",
			[]string{"2:9: notify.smtp: must be a mapping"}},
		{"bad smtp from", "notify:\n  smtp: {host: mx, from: nightowl}\n",
			[]string{"2:26: notify.smtp.from: not a valid address"}},
		{"explicit zero port", "notify:\n  smtp: {host: mx, port: 0}\n",
			[]string{"2:26: notify.smtp.port: must be between 1 and 65535"}},
		{"repeat exactly a minute is fine, after too", "notify:\n  receivers: {c: [{command: {command: [x]}}]}\n  routes: [{escalation: e}]\n  escalations: {e: {steps: [{notify: c, after: 0s}], repeat: 1m}}\n", nil},
		{"repeat zero is fine", "notify:\n  escalations: {e: {steps: [{notify: c}], repeat: 0s}}\n  receivers: {c: [{command: {command: [x]}}]}\n  routes: [{escalation: e}]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("nightowl.yaml", []byte(tt.src), Options{})
			var got []string
			var es Errors
			if errors.As(err, &es) {
				for _, e := range es {
					got = append(got, strings.TrimPrefix(e.Error(), "nightowl.yaml:"))
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestReceiverFingerprint(t *testing.T) {
	const slackURL = "https://hooks.slack.com/services/T0/B0/s3cr3t"
	baseOpts := alertingOpts(slackURL, pdKey, "smtp-pw")
	fps := func(t *testing.T, src string, o Options) map[string]string {
		t.Helper()
		n := mustParse(t, src, o).Notify
		out := map[string]string{}
		for _, list := range n.Receivers {
			for _, r := range list {
				out[r.ID] = r.Fingerprint
			}
		}
		return out
	}
	base := fps(t, alerting, baseOpts)
	ids := []string{"chat[0]", "primary[0]", "primary[1]", "secondary[0]"}
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(alerting, old) {
			t.Fatalf("the example has no %q", old)
		}
		return strings.Replace(alerting, old, new, 1)
	}
	tests := []struct {
		name    string
		src     string
		opts    Options
		changed []string
	}{
		{"same", alerting, baseOpts, nil},
		{"reformatted, explicit defaults", edit(
			"    primary: [{pagerduty: {routing_key_file: /run/secrets/pd}}, {email: {to: [ops@example.com]}}]\n",
			"    primary:\n      - pagerduty:\n          group_label: site\n          routing_key_file: /run/secrets/pd\n      - email:\n          to:\n            - ops@example.com\n"), baseOpts, nil},
		{"escalations and routes are not receivers", edit("repeat: 30m", "repeat: 1h"), baseOpts, nil},
		{"slack url from env", alerting, alertingOpts(slackURL+"x", pdKey, "smtp-pw"), []string{"chat[0]"}},
		{"secret file content", alerting, alertingOpts(slackURL, strings.Repeat("f", 32), "smtp-pw"), []string{"primary[0]"}},
		{"smtp password, for email only", alerting, alertingOpts(slackURL, pdKey, "other"), []string{"primary[1]"}},
		{"smtp host", edit("host: smtp.example.com", "host: mx.example.com"), baseOpts, []string{"primary[1]"}},
		{"webhook header", edit(`{url: "https://hooks.example.com/page"}`, `{url: "https://hooks.example.com/page", headers: {X-A: "1"}}`), baseOpts, []string{"secondary[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fps(t, tt.src, tt.opts)
			for _, id := range ids {
				want := contains(tt.changed, id)
				if changed := got[id] != base[id]; changed != want {
					t.Errorf("%s: changed = %v, want %v", id, changed, want)
				}
			}
		})
	}
}

// TestKindsAreDecodable makes sure every receiver block is a struct the
// decoder can fill, so that adding a receiver with, say, a field of a type
// YAML cannot set fails here rather than in a user's config.
func TestKindsAreDecodable(t *testing.T) {
	for _, kind := range kindNames() {
		t.Run(kind, func(t *testing.T) {
			spec := receivers.Kinds[kind]()
			v := reflect.ValueOf(spec)
			if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
				t.Fatalf("%s: New returns %T, not a pointer to a struct", kind, spec)
			}
			if fs := fieldsOf(v.Elem().Type()); len(fs) == 0 {
				t.Errorf("%s: no yaml keys", kind)
			}
		})
	}
}
