// Package notify turns alerts into notifications and delivers them: the
// alert Manager (alerts.go) opens, acknowledges and resolves alerts and
// queues a message to each receiver the Policy's routes and escalation
// steps (escalation.go) name; the Sender (sender.go) delivers the queued
// messages from the store's outbox, retrying what a receiver asked to be
// tried again, with its metrics.
//
// The receivers themselves live one package each under notify/, built on
// notify/kit and named in the table of notify/receivers; they never
// import this package.
package notify
