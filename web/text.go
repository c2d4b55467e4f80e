package web

import (
	"fmt"
	"maps"
	"slices"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Free text in request bodies is checked against the rules of kit.CheckText
// where a request is decoded, so that nothing is half-applied.

// freeTexter is a request body with free text in it: decodeBody checks it
// as it decodes, so that every handler refuses the same characters.
type freeTexter interface {
	freeText() []kit.TextField
}

func (r *MaintenanceRequest) freeText() []kit.TextField {
	out := []kit.TextField{kit.Field("name", r.Name, kit.LineText), kit.Field("reason", r.Reason, kit.LinesText)}
	for i, e := range r.Expect {
		out = append(out, kit.Field(fmt.Sprintf("expect[%d]", i), e, kit.LineText))
	}
	return out
}

// selectorTexts are the names and labels of a maintenance window's
// selector: a name need only be one of several, and a label any value, to
// be stored and listed with the window.
func selectorTexts(sel nightowl.Selector) []kit.TextField {
	var out []kit.TextField
	for i, n := range sel.Names {
		out = append(out, kit.Field(fmt.Sprintf("checks.names[%d]", i), n, kit.LineText))
	}
	for _, k := range slices.Sorted(maps.Keys(sel.Labels)) {
		out = append(out, kit.Field("checks.labels", k, kit.LineText), kit.Field("checks.labels."+k, sel.Labels[k], kit.LineText))
	}
	return out
}

func (r *IncidentRequest) freeText() []kit.TextField {
	return []kit.TextField{kit.Field("title", r.Title, kit.LineText), kit.Field("message", r.Message, kit.LinesText)}
}

func (r *IncidentUpdateRequest) freeText() []kit.TextField {
	return []kit.TextField{kit.Field("message", r.Message, kit.LinesText)}
}

func (r *IncidentPublishRequest) freeText() []kit.TextField {
	return []kit.TextField{kit.Field("title", r.Title, kit.LineText), kit.Field("message", r.Message, kit.LinesText)}
}

func (r *actionRequestBody) freeText() []kit.TextField {
	return append([]kit.TextField{kit.Field("reason", r.Reason, kit.LinesText)}, kit.ParamTexts(r.Params)...)
}

func (r *denyBody) freeText() []kit.TextField {
	return []kit.TextField{kit.Field("reason", r.Reason, kit.LinesText)}
}
