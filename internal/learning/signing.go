package learning

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// sign signs the id a link names, for one purpose, with the site's secret
// key: HMAC-SHA256 of "<purpose>:<id>:<link key>", base64url without
// padding. The purpose keeps a signature from working in another kind of
// link (an unsubscribe link's on a quiz page of the same id). The link key
// is the random key of the enrollment the link belongs to: it binds the
// link to that row, so that a link of a deleted row never opens a row
// created later, whoever creates it. Links signed this way need nothing
// stored but the key; changing MAILSCHOOL_SECRET_KEY breaks the links of
// the emails sent before.
func (s *Service) sign(purpose string, id int64, linkKey string) string {
	mac := hmac.New(sha256.New, s.secretKey)
	mac.Write([]byte(purpose + ":" + strconv.FormatInt(id, 10) + ":" + linkKey))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// signedBy reports, in constant time, whether signature is
// sign(purpose, id, linkKey). A row without a key has no valid link.
func (s *Service) signedBy(purpose string, id int64, linkKey, signature string) bool {
	return linkKey != "" && hmac.Equal([]byte(signature), []byte(s.sign(purpose, id, linkKey)))
}
