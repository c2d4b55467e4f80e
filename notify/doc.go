// Package notify turns alerts into notifications and delivers them: the
// alert Manager (alerts.go) opens, escalates, acknowledges and resolves
// alerts, and writes to the store's outbox a notification for each
// receiver the Policy's routes and escalation steps (escalation.go) name;
// the Sender (sender.go) delivers the outbox, retrying what failed for a
// while, and exports its metrics.
//
// The receivers themselves live one package each under notify/, built on
// notify/kit and named in the table of notify/receivers; they never
// import this package.
package notify
