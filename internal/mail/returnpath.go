package mail

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strconv"
	"strings"
)

// ReturnPaths makes and checks per-message envelope senders (VERP):
// bounces+<id>-<signature>@<bounce domain>, where the signature is the
// first 80 bits of HMAC-SHA256 of "bounce:<id>:<Message-ID>" under the
// secret key, in lower-case base32. A bounce comes back to that address
// and names the email it is about; the signature keeps anyone from naming
// an email by its id alone, and the Message-ID binds it to the row, so an
// id reused after a restore names nothing. Mail servers may lower-case a
// local part, so the token is checked case-insensitively.
type ReturnPaths struct {
	key    []byte
	domain string
}

// ReturnPathPrefix starts the local part of every return path.
const ReturnPathPrefix = "bounces+"

// NewReturnPaths returns the return paths of a bounce domain; an empty
// domain turns them off (For answers "").
func NewReturnPaths(secretKey, domain string) ReturnPaths {
	return ReturnPaths{key: []byte(secretKey), domain: strings.ToLower(strings.TrimSpace(domain))}
}

// Enabled reports whether a bounce domain is set.
func (r ReturnPaths) Enabled() bool { return r.domain != "" }

// For returns the return path of the email with this row id and
// Message-ID, or "" when return paths are off.
func (r ReturnPaths) For(id int64, messageID string) string {
	if r.domain == "" {
		return ""
	}
	return ReturnPathPrefix + strconv.FormatInt(id, 10) + "-" + r.sign(id, messageID) + "@" + r.domain
}

func (r ReturnPaths) sign(id int64, messageID string) string {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte("bounce:" + strconv.FormatInt(id, 10) + ":" + messageID))
	return strings.ToLower(base32.StdEncoding.EncodeToString(mac.Sum(nil)[:10]))
}

// Parse reads the email id and signature of a return path, in any case,
// whatever its domain (a bounce domain may have aliases); ok is false for
// an address of another shape.
func (r ReturnPaths) Parse(addr string) (id int64, signature string, ok bool) {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	local, _, found := strings.Cut(addr, "@")
	if !found {
		return 0, "", false
	}
	token, found := strings.CutPrefix(local, ReturnPathPrefix)
	if !found {
		return 0, "", false
	}
	idText, signature, found := strings.Cut(token, "-")
	if !found || signature == "" {
		return 0, "", false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", false
	}
	return id, signature, true
}

// Valid reports, in constant time, whether signature (as Parse read it) is
// the one of the email with this id and Message-ID.
func (r ReturnPaths) Valid(id int64, messageID, signature string) bool {
	return len(r.key) > 0 && hmac.Equal([]byte(strings.ToLower(signature)), []byte(r.sign(id, messageID)))
}
