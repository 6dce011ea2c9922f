package webhooks_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mailschool/mailschool/internal/webhooks"
)

// The Standard Webhooks specification's published example: a receiver's
// library accepts what Sign produces only if it reproduces this exactly.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationVector(t *testing.T) {
	sig, err := webhooks.Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if sig != vectorSignature {
		t.Errorf("Sign = %s, want %s", sig, vectorSignature)
	}
}

func TestSignRefusesMalformedSecrets(t *testing.T) {
	for _, secret := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!"} {
		if _, err := webhooks.Sign(secret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody)); err == nil {
			t.Errorf("Sign with secret %q succeeded", secret)
		}
	}
}

func vectorHeader(sigs string) http.Header {
	h := http.Header{}
	h.Set(webhooks.HeaderID, vectorID)
	h.Set(webhooks.HeaderTimestamp, "1614265330")
	h.Set(webhooks.HeaderSignature, sigs)
	return h
}

func TestVerify(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	other := "whsec_" + "c2VjcmV0LWJ1dC1hbm90aGVyLW9uZQ=="
	both, err := webhooks.SignatureHeader(vectorID, at, []byte(vectorBody), other, vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"the vector", vectorSecret, vectorHeader(vectorSignature), vectorBody, at, nil},
		{"both secrets listed, the old one held", vectorSecret, vectorHeader(both), vectorBody, at, nil},
		{"both secrets listed, the new one held", other, vectorHeader(both), vectorBody, at, nil},
		{"other versions skipped", vectorSecret, vectorHeader("v1a,abc " + vectorSignature), vectorBody, at, nil},
		{"4 minutes late", vectorSecret, vectorHeader(vectorSignature), vectorBody, at.Add(4 * time.Minute), nil},
		{"6 minutes late", vectorSecret, vectorHeader(vectorSignature), vectorBody, at.Add(6 * time.Minute), webhooks.ErrTimestampTooOld},
		{"6 minutes early", vectorSecret, vectorHeader(vectorSignature), vectorBody, at.Add(-6 * time.Minute), webhooks.ErrTimestampTooNew},
		{"body changed", vectorSecret, vectorHeader(vectorSignature), `{"test": 2432232315}`, at, webhooks.ErrNoMatch},
		{"another secret", other, vectorHeader(vectorSignature), vectorBody, at, webhooks.ErrNoMatch},
		{"no signature", vectorSecret, vectorHeader(""), vectorBody, at, webhooks.ErrMissingHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhooks.Verify(tc.secret, tc.header, []byte(tc.body), tc.now)
			if !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}
