package providers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/bounces/providers"
	"github.com/mailschool/mailschool/internal/bounces/providers/providertest"
)

// BenchmarkReports measures what one webhook request costs to verify and
// read, per provider (the SNS certificate already fetched and kept).
func BenchmarkReports(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	sns := providertest.NewSNS(b, "sns.amazonaws.com", now)
	sendgridKey, sendgridPublic := providertest.SendGridKey(b)
	opts := sns.Options(func() time.Time { return now })
	w, err := providers.New(providers.Settings{SESTopicARN: providertest.Topic, SendGridPublicKey: sendgridPublic,
		PostmarkCredentials: "postmark:password", MailgunSigningKey: mailgunKey}, opts)
	if err != nil {
		b.Fatal(err)
	}
	sesBody := sns.Sign(b, providertest.Notification(sesBounce, "2"))
	sendgridBody := []byte(sendGridEvents)
	sendgridHeader := providertest.SignSendGrid(b, sendgridKey, "1773143890", sendgridBody)
	postmarkHeader := http.Header{}
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth("postmark", "password")
	postmarkHeader.Set("Authorization", req.Header.Get("Authorization"))

	run := func(b *testing.B, provider string, header http.Header, body func(i int) []byte) {
		for i := 0; b.Loop(); i++ {
			if _, err := w.Reports(ctx, provider, header, body(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("ses", func(b *testing.B) { run(b, providers.SES, nil, func(int) []byte { return sesBody }) })
	b.Run("sendgrid", func(b *testing.B) {
		run(b, providers.SendGrid, sendgridHeader, func(int) []byte { return sendgridBody })
	})
	b.Run("postmark", func(b *testing.B) {
		run(b, providers.Postmark, postmarkHeader, func(int) []byte { return []byte(postmarkBounce) })
	})
	runs := 0
	b.Run("mailgun", func(b *testing.B) {
		runs++
		// Each token is taken once, so each request is signed afresh:
		// this one includes the signing (an HMAC and a format).
		run(b, providers.Mailgun, nil, func(i int) []byte {
			return providertest.Mailgun(mailgunKey, now, fmt.Sprint("token-", runs, "-", i), mailgunFailed)
		})
	})
}
