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
	// Was is the version the stored incident must be at for an update to
	// be written over it; Version the one written.
	Was, Version int64
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
	rec.Was, rec.Version = inc.Version, inc.Version+1
	stored.Version = rec.Version
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
// there, or changed meanwhile, is said as it is.
func (rec Incident) Failed(err error) error {
	if c := nightowl.ErrorCode(err); c == nightowl.ENotFound || c == nightowl.EConflict {
		return err
	}
	return fmt.Errorf("save %s: %w", rec.What, err)
}

// IncidentChanged is the error for an incident saved over a version that
// is no longer the stored one: someone changed it since it was read.
func IncidentChanged(id string) error {
	return nightowl.Errorf(nightowl.EConflict, "incident %s was changed meanwhile; read it again", id)
}

// IncidentSaved gives inc, and u when not nil, the IDs the store gave them,
// and inc the version saved.
func IncidentSaved(inc *nightowl.Incident, rec Incident, u *nightowl.IncidentUpdate, id string, updateID int64) {
	inc.ID, inc.Version = id, rec.Version
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
