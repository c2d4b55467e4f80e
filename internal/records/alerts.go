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
