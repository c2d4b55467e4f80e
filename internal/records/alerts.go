package records

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
)

// Alert is an alert change ready to be written: the alert as stored, and
// the message of each notification it queues.
type Alert struct {
	Data     []byte
	Messages [][]byte
}

// EncodeAlert checks a and encodes it, and the messages of out, as both
// stores keep them: the alert whole, each message on its own.
func EncodeAlert(a *nightowl.Alert, out []nightowl.Notification) (Alert, error) {
	if a.ID == "" || a.Check == "" {
		return Alert{}, nightowl.Errorf(nightowl.EInvalid, "alert has no id or check")
	}
	var rec Alert
	var err error
	if rec.Data, err = json.Marshal(a); err != nil {
		return Alert{}, fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	rec.Messages = make([][]byte, len(out))
	for i := range out {
		if rec.Messages[i], err = json.Marshal(&out[i].Message); err != nil {
			return Alert{}, fmt.Errorf("save alert %s: %w", a.ID, err)
		}
	}
	return rec, nil
}

// SaveAlert saves a with out through write, as a compare-and-set on the
// alert's version. write writes rec (a with its next version) and the
// notifications in one transaction: when from is 0 it inserts the alert
// unless one of its ID is stored, otherwise it updates the stored alert
// only where its version is still from; it says how many alert rows it
// changed and, when one, the IDs of out. On success a has its new version
// and out its IDs; when no row changed another write came first, a is as
// it was and the error is a conflict.
func SaveAlert(a *nightowl.Alert, out []nightowl.Notification, write func(rec Alert, from int64) (changed int64, ids []int64, err error)) error {
	from := a.Version
	a.Version = from + 1
	rec, err := EncodeAlert(a, out)
	if err != nil {
		a.Version = from
		return err
	}
	n, ids, err := write(rec, from)
	if err == nil && n == 0 {
		err = AlertChanged(a.ID)
	}
	if err != nil {
		a.Version = from
		return err
	}
	Queued(a, out, ids)
	return nil
}

// AlertChanged is the error of a save that lost to another write of the
// same alert.
func AlertChanged(id string) error {
	return nightowl.Errorf(nightowl.EConflict, "alert %s changed meanwhile", id)
}

// Queued tells out that the store queued each notification, under ids, for
// the alert a.
func Queued(a *nightowl.Alert, out []nightowl.Notification, ids []int64) {
	for i := range out {
		out[i].ID = ids[i]
		out[i].AlertID = a.ID
		out[i].State = nightowl.NotificationPending
	}
}

// DecodeNotification completes a scanned notification with its stored
// message. A notification sent or given up on is due no more: its NextAt
// is zero, whatever the row says.
func DecodeNotification(n *nightowl.Notification, msg []byte) error {
	if n.State != nightowl.NotificationPending {
		n.NextAt = time.Time{}
	}
	return json.Unmarshal(msg, &n.Message)
}
