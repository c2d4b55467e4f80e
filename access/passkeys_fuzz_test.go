package access

import (
	"context"
	"testing"

	"github.com/nightowl/nightowl"
)

// FuzzPasskeyAnswer: whatever a browser answers to a passkey's
// registration, it is refused with a code unless it is a real
// attestation of the challenge, nothing panics, and no factor is kept.
func FuzzPasskeyAnswer(f *testing.F) {
	for _, s := range []string{"", "{}", "null", `{"id":"x","rawId":"eA","type":"public-key","response":{}}`,
		`{"id":"x","rawId":"eA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`,
		`{"id":"x","rawId":"eA","type":"public-key","response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0","attestationObject":"o2NmbXRkbm9uZQ"}}`} {
		f.Add([]byte(s))
	}
	ft := newTest(f)
	ctx := context.Background()
	if _, err := ft.svc.AddUser(ctx, "ana", nightowl.RoleResponder, password); err != nil {
		f.Fatal(err)
	}
	_, cookie, err := ft.svc.Login(ctx, "ana", password, "192.0.2.1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := ft.svc.BeginPasskey(ctx, cookie, "localhost", "http://localhost:8080"); err != nil {
			t.Fatal(err)
		}
		_, _, err := ft.svc.FinishPasskey(ctx, cookie, "key", "localhost", "http://localhost:8080", body)
		switch nightowl.ErrorCode(err) {
		case nightowl.EInvalid, nightowl.EUnauthorized:
		default:
			t.Fatalf("%q: %v", body, err)
		}
		if fs, _ := ft.store.Factors(ctx, "ana"); len(fs) != 0 {
			t.Fatalf("%q: kept %+v", body, fs)
		}
	})
}
