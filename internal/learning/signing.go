package learning

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// sign returns the signature of a link that names a row by id for one
// purpose: HMAC-SHA256 of "<purpose>:<id>" under the site's secret key,
// base64url without padding. The purpose keeps a signature made for one
// kind of link from working in another. Nothing is stored, so a link
// works for as long as its row exists; changing MAILSCHOOL_SECRET_KEY
// breaks every link signed before.
func (s *Service) sign(purpose string, id int64) string {
	mac := hmac.New(sha256.New, s.secretKey)
	mac.Write([]byte(purpose + ":" + strconv.FormatInt(id, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// signed reports whether signature is sign(purpose, id), in constant time.
func (s *Service) signed(purpose string, id int64, signature string) bool {
	return hmac.Equal([]byte(signature), []byte(s.sign(purpose, id)))
}
