package records

import (
	"encoding/json"
	"fmt"

	"github.com/nightowl/nightowl"
)

// IncidentPrefix begins every incident ID; the rest is its number, which
// the store gives.
const IncidentPrefix = "inc-"

// Incident is an incident change ready to be written.
type Incident struct {
	// What names the incident in errors: "incident inc-3", or "new
	// incident" before it has a number.
	What string
	// Data is the incident as stored: without its ID, which lives in its
	// column.
	Data []byte
	// Components are the update's components, nil when there is no
	// update or it names none (NULL, not "null").
	Components []byte
}

// EncodeIncident checks inc and encodes it, and u when not nil, as both
// stores keep them.
func EncodeIncident(inc *nightowl.Incident, u *nightowl.IncidentUpdate) (Incident, error) {
	rec := Incident{What: "incident " + inc.ID}
	if inc.ID == "" {
		rec.What = "new incident"
	}
	if inc.Title == "" || !inc.State.Valid() || !inc.Impact.Valid() {
		return rec, nightowl.Errorf(nightowl.EInvalid, "save %s: it needs a title, a state and an impact", rec.What)
	}
	stored := *inc
	stored.ID = ""
	var err error
	if rec.Data, err = json.Marshal(&stored); err != nil {
		return rec, fmt.Errorf("save %s: %w", rec.What, err)
	}
	if u != nil && u.Components != nil {
		if rec.Components, err = json.Marshal(u.Components); err != nil {
			return rec, fmt.Errorf("save %s: %w", rec.What, err)
		}
	}
	return rec, nil
}

// Failed wraps the error of writing the incident; an incident that is not
// there is said as it is.
func (rec Incident) Failed(err error) error {
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return err
	}
	return fmt.Errorf("save %s: %w", rec.What, err)
}

// IncidentSaved gives inc, and u when not nil, the IDs the store gave them.
func IncidentSaved(inc *nightowl.Incident, u *nightowl.IncidentUpdate, id string, updateID int64) {
	inc.ID = id
	if u != nil {
		u.ID, u.IncidentID = updateID, id
	}
}

// DecodeIncident reads back an incident that EncodeIncident wrote, with
// the ID from its column.
func DecodeIncident(id string, data []byte) (nightowl.Incident, error) {
	var inc nightowl.Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return inc, err
	}
	inc.ID = id
	return inc, nil
}

// DecodeComponents sets an incident update's components from what
// EncodeIncident wrote; nil, a NULL column, leaves them out.
func DecodeComponents(u *nightowl.IncidentUpdate, comps []byte) error {
	if comps == nil {
		return nil
	}
	return json.Unmarshal(comps, &u.Components)
}
