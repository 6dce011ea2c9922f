package mailboxtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// DSN is a delivery status notification (RFC 3464) as a mail server sends
// it to returnPath: the email with Message-ID messageID (no angle
// brackets) to recipient failed with status (5.1.1: hard; 4.2.2: soft).
func DSN(returnPath, recipient, messageID, status string) []byte {
	id := randomID()
	code := "550"
	if strings.HasPrefix(status, "4") {
		code = "452"
	}
	return crlf(fmt.Sprintf(`Return-Path: <>
Delivered-To: %[1]s
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: %[1]s
Subject: Undelivered Mail Returned to Sender
Date: Sun, 6 Dec 2026 10:00:00 +0000
Message-ID: <%[5]s@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b-%[5]s"

--b-%[5]s
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

<%[2]s>: host mx.example.com said: %[6]s %[4]s No such user

--b-%[5]s
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; %[2]s
Action: failed
Status: %[4]s
Diagnostic-Code: smtp; %[6]s %[4]s No such user

--b-%[5]s
Content-Type: text/rfc822-headers

Return-Path: <%[1]s>
Message-ID: <%[3]s>
To: %[2]s

--b-%[5]s--
`, returnPath, recipient, messageID, status, id, code))
}

// ARF is a feedback loop's complaint (RFC 5965): recipient marked the
// email with Message-ID messageID, sent with returnPath, as spam.
func ARF(returnPath, recipient, messageID string) []byte {
	id := randomID()
	return crlf(fmt.Sprintf(`From: feedback@fbl.example.net
To: fbl@acme.example
Subject: Abuse report
Date: Sun, 6 Dec 2026 10:00:00 +0000
Message-ID: <%[4]s@fbl.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b-%[4]s"

--b-%[4]s
Content-Type: text/plain

This is an email abuse report.

--b-%[4]s
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: TestFBL/1.0
Version: 1
Original-Mail-From: <%[1]s>
Original-Rcpt-To: <%[2]s>

--b-%[4]s
Content-Type: text/rfc822-headers

Return-Path: <%[1]s>
Message-ID: <%[3]s>
To: %[2]s

--b-%[4]s--
`, returnPath, recipient, messageID, id))
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
