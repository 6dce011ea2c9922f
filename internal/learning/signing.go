package learning

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// sign signs the id a link names, for one purpose, with the site's secret
// key: HMAC-SHA256 of "<purpose>:<id>", base64url without padding. The
// purpose keeps a signature from working in another kind of link (an
// unsubscribe link's on a quiz page of the same id). Links signed this
// way need nothing stored; changing MAILSCHOOL_SECRET_KEY breaks the
// links of the emails sent before.
func (s *Service) sign(purpose string, id int64) string {
	mac := hmac.New(sha256.New, s.secretKey)
	mac.Write([]byte(purpose + ":" + strconv.FormatInt(id, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// signedBy reports, in constant time, whether signature is sign(purpose, id).
func (s *Service) signedBy(purpose string, id int64, signature string) bool {
	return hmac.Equal([]byte(signature), []byte(s.sign(purpose, id)))
}
