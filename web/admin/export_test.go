package admin

// What the tests outside the package, which sign in through web.Handler,
// need to make tokens of their own.
const (
	LoginTTL       = loginTTL
	LoginTokenSize = loginTokenSize
)

var NewLoginToken = newLoginToken
