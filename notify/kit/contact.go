package kit

import (
	"reflect"
	"strings"

	"github.com/nightowl/nightowl"
)

// Contact is a receiver block that can reach one person at an address of
// their own. A contact kind (notify.contacts) is such a block with the
// address left out; each person's contact method is a copy of it with
// theirs filled in.
type Contact interface {
	Spec
	// AddressKey is the key of the block that a person's address fills,
	// or "" when the block sends every message to one gateway it names
	// (an SMS provider behind a webhook) and the address rides in the
	// message, as Message.To.
	AddressKey() string
	// SetAddress fills AddressKey with the address; it does nothing when
	// AddressKey is "".
	SetAddress(address string)
}

// WithAddress returns a copy of the block c with the address filled in, and
// what is wrong with the address. The copy is shallow: SetAddress replaces
// fields, it never changes what they point to.
func WithAddress(c Contact, address string) (Contact, []nightowl.FieldError) {
	v := reflect.New(reflect.TypeOf(c).Elem())
	v.Elem().Set(reflect.ValueOf(c).Elem())
	cp := v.Interface().(Contact)
	key := cp.AddressKey()
	if key == "" {
		return cp, nil
	}
	cp.SetAddress(address)
	var errs []nightowl.FieldError
	for _, e := range cp.Validate() {
		if AtKey(e.Key, key) {
			errs = append(errs, nightowl.FieldError{Key: "address", Message: e.Message})
		}
	}
	return cp, errs
}

// WithoutAddress is what is wrong with a contact kind's block, leaving out
// the address its people give.
func WithoutAddress(c Contact) []nightowl.FieldError {
	key := c.AddressKey()
	var errs []nightowl.FieldError
	for _, e := range c.Validate() {
		if key == "" || !AtKey(e.Key, key) {
			errs = append(errs, e)
		}
	}
	return errs
}

// AtKey reports whether a field error's key is key or within it ("to[0]"
// is within "to").
func AtKey(k, key string) bool {
	return k == key || strings.HasPrefix(k, key+"[") || strings.HasPrefix(k, key+".")
}
