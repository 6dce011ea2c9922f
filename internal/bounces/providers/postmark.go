package providers

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/bounces"
)

// postmarkEvent is a Postmark Bounce or SpamComplaint webhook.
type postmarkEvent struct {
	RecordType  string
	ID          json.Number
	Type        string
	Email       string
	BouncedAt   time.Time
	Description string
	Details     string
	Metadata    map[string]string
	// Content is the bounce email itself, when the webhook is set to
	// include it.
	Content string
}

// headerMessageID finds Message-ID header lines.
var headerMessageID = regexp.MustCompile(`(?im)^message-id:[ \t]*(\S+)`)

// postmarkKinds maps Postmark's bounce types. Those left out (auto
// responders, subscription requests, challenge verifications, address
// changes, virus notices, Postmark's own refusals such as
// ManuallyDeactivated) say nothing about whether the address works.
var postmarkKinds = map[string]bounces.Kind{
	"HardBounce":      bounces.Hard,
	"BadEmailAddress": bounces.Hard,
	"SoftBounce":      bounces.Soft,
	"Transient":       bounces.Soft,
	"DnsError":        bounces.Soft,
	"Blocked":         bounces.Soft,
	"SpamComplaint":   bounces.Complaint,
}

// postmarkReports checks the basic authentication credentials Postmark
// sends (it signs nothing) and reads the event. Postmark's MessageID is
// its own id, not the sent Message-ID; the original Message-ID is taken
// from the metadata key "message-id" when the message carried one, or
// else from the original's headers quoted in the bounce content: the last
// Message-ID line there, when there is more than the bounce's own.
func (w *Webhooks) postmarkReports(header http.Header, body []byte) ([]bounces.Report, error) {
	user, password, ok := (&http.Request{Header: header}).BasicAuth()
	if !ok {
		return nil, unauthenticated("no basic authentication")
	}
	// Hashing first makes the comparison take the same time whatever the
	// lengths.
	got, want := sha256.Sum256([]byte(user+":"+password)), sha256.Sum256([]byte(w.settings.PostmarkCredentials))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return nil, unauthenticated("wrong basic authentication credentials")
	}
	var e postmarkEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, malformed("not a Postmark webhook")
	}
	if e.RecordType != "Bounce" && e.RecordType != "SpamComplaint" {
		return nil, nil
	}
	kind, ok := postmarkKinds[e.Type]
	if e.RecordType == "SpamComplaint" {
		kind, ok = bounces.Complaint, true
	}
	if !ok {
		return nil, nil
	}
	r := bounces.Report{Kind: kind, Recipient: e.Email, Source: Postmark, SourceID: e.ID.String(), At: e.BouncedAt,
		Diagnostic: strings.TrimSpace(joinNonEmpty(e.Details, e.Description))}
	for k, v := range e.Metadata {
		if strings.EqualFold(k, "message-id") || strings.EqualFold(k, "message_id") {
			r.MessageID = messageID(v)
		}
	}
	if ids := headerMessageID.FindAllStringSubmatch(e.Content, -1); r.MessageID == "" && len(ids) > 1 {
		r.MessageID = messageID(ids[len(ids)-1][1])
	}
	return []bounces.Report{r}, nil
}
