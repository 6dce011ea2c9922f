// Package mailtest reads back, for tests, the emails the mail service
// recorded.
package mailtest

import (
	"context"
	"testing"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// Sent returns the recorded emails of a kind to an address, newest first,
// taken apart. It reads the newest 1,000 emails.
func Sent(tb testing.TB, db *store.DB, to string, kind mail.Kind) []mail.Parsed {
	tb.Helper()
	ctx := context.Background()
	list, err := db.Read().ListMailMessages(ctx, 0, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var found []mail.Parsed
	for _, m := range list {
		if m.Recipient != to || m.Kind != string(kind) {
			continue
		}
		full, err := db.Read().MailMessageByID(ctx, m.ID)
		if err != nil {
			tb.Fatal(err)
		}
		p, err := mail.Parse(full.Raw)
		if err != nil {
			tb.Fatal(err)
		}
		found = append(found, p)
	}
	return found
}
