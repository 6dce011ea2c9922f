package parse

import (
	"strings"

	"github.com/mailschool/mailschool/internal/bounces"
)

// arf reads a feedback report (RFC 5965). Only Feedback-Type abuse (the
// recipient marked the email as spam) is a complaint; the other types
// (fraud, virus, not-spam, auth-failure...) say nothing about whether
// the recipient wants the email.
func (p *parser) arf() []bounces.Report {
	h := readHeader(p.feedback)
	if !strings.EqualFold(strings.TrimSpace(h.Get("Feedback-Type")), "abuse") {
		return nil
	}
	recipient := addressField(h.Get("Original-Rcpt-To"))
	if recipient == "" && p.original != nil {
		if list := addresses(p.original.Get("To")); len(list) > 0 {
			recipient = list[0]
		}
	}
	if recipient == "" {
		return nil
	}
	report := bounces.Report{
		Kind:      bounces.Complaint,
		Recipient: recipient,
		At:        parseTime(h.Get("Arrival-Date")),
	}
	if report.At.IsZero() {
		report.At = parseTime(h.Get("Received-Date"))
	}
	// The original's envelope sender is its return path, which the
	// report's own headers do not hold: it is sent to the feedback loop's
	// address.
	if from := addressField(h.Get("Original-Mail-From")); strings.HasPrefix(strings.ToLower(from), "bounces+") {
		report.ReturnPath = from
	}
	report.Diagnostic = "complaint: " + strings.TrimSpace(h.Get("Feedback-Type"))
	if agent := strings.TrimSpace(h.Get("User-Agent")); agent != "" {
		report.Diagnostic += " (" + agent + ")"
	}
	return []bounces.Report{report}
}
