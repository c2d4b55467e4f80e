package notifytest

import (
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// Change is a change to a valid config block, and the errors Validate
// must then give, in order.
type Change[P kit.Spec] struct {
	Name   string
	Config func(P)
	Want   []nightowl.FieldError
}

// Validate applies each change to a fresh block from valid and compares
// what Validate says with the change's Want, failing when an error shows
// one of the secrets.
func Validate[P kit.Spec](t *testing.T, valid func() P, changes []Change[P], secrets ...string) {
	t.Helper()
	for _, c := range changes {
		t.Run(c.Name, func(t *testing.T) {
			spec := valid()
			c.Config(spec)
			FieldErrors(t, spec.Validate(), c.Want, secrets...)
		})
	}
}

// URLChanges are the mistakes in a receiver URL that every receiver
// refuses alike, through kit.CheckURL: key is the URL's key in the block,
// set sets it, and path ends every URL tried (a receiver may want one).
func URLChanges[P kit.Spec](key, path string, set func(P, string)) []Change[P] {
	change := func(name, url, msg string) Change[P] {
		return Change[P]{Name: name, Config: func(c P) { set(c, url) },
			Want: []nightowl.FieldError{{Key: key, Message: msg}}}
	}
	return []Change[P]{
		change("no "+key, "", "required"),
		change(key+" of another scheme", "ftp://example.com"+path, `scheme must be "http" or "https"`),
		change(key+" without a host", "https://"+path, "has no host"),
		change(key+" that does not parse", "https://exa mple.com"+path, "not a valid URL"),
	}
}

// TemplateChanges are the template mistakes every receiver refuses alike,
// through kit.ValidateTemplates: set sets the title and text templates,
// "" leaving the receiver's default.
func TemplateChanges[P kit.Spec](set func(c P, title, text string)) []Change[P] {
	change := func(name, title, text string, want ...nightowl.FieldError) Change[P] {
		return Change[P]{Name: name, Config: func(c P) { set(c, title, text) }, Want: want}
	}
	return []Change[P]{
		change("title does not parse", "{{.Alert.Check", "",
			nightowl.FieldError{Key: "title_template", Message: "template: title_template:1: unclosed action"}),
		change("text calls no such function", "", "{{lower .Alert.Check}}",
			nightowl.FieldError{Key: "text_template", Message: `template: text_template:1: function "lower" not defined`}),
		// A label the sample message lacks is no mistake: other checks
		// may have it.
		change("title misspells a field", "{{.Alert.Chek}}", "{{.Alert.Labels.site}}",
			nightowl.FieldError{Key: "title_template", Message: `template: title_template:1:8: executing "title_template" at <.Alert.Chek>: can't evaluate field Chek in type nightowl.Alert`}),
		change("text misspells a field", "", "{{.Alert.Nope}}",
			nightowl.FieldError{Key: "text_template", Message: `template: text_template:1:8: executing "text_template" at <.Alert.Nope>: can't evaluate field Nope in type nightowl.Alert`}),
		change("neither parses", "{{.Alert.Check", "{{nope}}",
			nightowl.FieldError{Key: "title_template", Message: "template: title_template:1: unclosed action"},
			nightowl.FieldError{Key: "text_template", Message: `template: text_template:1: function "nope" not defined`}),
	}
}

// Refused fails t unless building a notifier from each spec fails.
func Refused(t testing.TB, specs ...kit.Spec) {
	t.Helper()
	for _, spec := range specs {
		if _, err := spec.Notifier(kit.Deps{}); err == nil {
			t.Errorf("Notifier(%+v) = nil error", spec)
		}
	}
}
