package storetest

import "testing"

// RecordsSuite tests alerts and the outbox, secrets, maintenance, people,
// incidents, actions and the audit log.
func RecordsSuite(t *testing.T, open Opener[Records]) {
	t.Skip("not written yet")
}
