// Package transfer moves an organization between installs: an export is
// one ZIP of JSON files holding everything the organization has, written
// as it is read, and an import of that file makes the organization again,
// with new ids, in one transaction.
package transfer

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// Format and FormatVersion name what an export is; an import refuses any
// other.
const (
	Format        = "mailschool-organization"
	FormatVersion = 1
)

// pageSize is how many rows are read at a time: one page is all an export
// holds in memory.
const pageSize = 1000

// LeftOut says what an export does not hold, and why; the manifest repeats
// it for whoever reads the file.
var LeftOut = []string{
	"passwords, sessions and API keys: secrets of accounts and keys, never copied",
	"pending invitations and ownership offers: their links are secrets, and an offer needs the member's consent again",
	"confirmation links of enrollments not yet confirmed: their tokens are secrets; the learner enrolls again",
	"sent emails: they hold links of the install they were sent from",
}

// Manifest is manifest.json: what the export is, and how many rows of
// each kind it holds.
type Manifest struct {
	Format         string         `json:"format"`
	FormatVersion  int            `json:"format_version"`
	ProductVersion string         `json:"product_version"`
	ExportedAt     time.Time      `json:"exported_at"`
	OrganizationID int64          `json:"organization_id"`
	Counts         map[string]int `json:"counts"`
	LeftOut        []string       `json:"left_out"`
}

// organizationFile is organization.json: the organization's settings, in
// the API's names, and its logo's files.
type organizationFile struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	Slug          string     `json:"slug"`
	Description   string     `json:"description"`
	IsActive      bool       `json:"is_active"`
	SenderName    string     `json:"sender_name"`
	ReplyTo       string     `json:"reply_to"`
	PostalAddress string     `json:"postal_address"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	Logo          *logoEntry `json:"logo"`
}

type logoEntry struct {
	ContentType      string `json:"content_type"`
	ETag             string `json:"etag"`
	File             string `json:"file"`
	ThumbContentType string `json:"thumb_content_type"`
	ThumbETag        string `json:"thumb_etag"`
	ThumbFile        string `json:"thumb_file"`
}

// memberRow is a line of members.jsonl, in the API's names.
type memberRow struct {
	UserID    int64     `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// accountRow is a line of accounts.jsonl: an account that the rows name
// (as an audit entry's actor), member or not.
type accountRow struct {
	UserID int64  `json:"user_id"`
	Email  string `json:"email"`
}

// Service exports and imports organizations.
type Service struct {
	db           *store.DB
	version      string
	now          func() time.Time
	certificates Certificates
}

// Certificates is what an import needs of the learning service: the QR
// code of a claimed certificate's page in this install.
type Certificates interface {
	CertificateQR(number string) ([]byte, error)
}

// NewService returns the service; version is the product's, written in
// every manifest.
func NewService(db *store.DB, version string, certificates Certificates) *Service {
	return &Service{db: db, version: version, now: time.Now, certificates: certificates}
}

// Export writes organization orgID as a ZIP to the writer that open
// returns, once the actor is known to be allowed: until open is called an
// error is the actor's (not found, forbidden) and nothing was written;
// after it, the download is broken and the caller should end it so that
// nobody keeps a truncated file for a whole one. The rows are read from
// one snapshot of the database, a page at a time.
func (s *Service) Export(ctx context.Context, actor *store.User, orgID int64, open func(org store.Organization) io.Writer) error {
	return s.db.ReadSnapshot(ctx, func(q *store.Queries) error {
		v, err := orgs.Authorize(ctx, q, actor, orgID, access.ExportOrganization)
		if err != nil {
			return err
		}
		zw := zip.NewWriter(open(v.Organization))
		if err := s.write(ctx, q, zw, v.Organization); err != nil {
			return fmt.Errorf("export organization %d: %w", orgID, err)
		}
		return zw.Close()
	})
}

func (s *Service) write(ctx context.Context, q *store.Queries, zw *zip.Writer, org store.Organization) error {
	m := Manifest{Format: Format, FormatVersion: FormatVersion, ProductVersion: s.version,
		ExportedAt: s.now().UTC().Truncate(time.Second), OrganizationID: org.ID, Counts: map[string]int{}, LeftOut: LeftOut}
	modified := m.ExportedAt

	of := organizationFile{ID: org.ID, Name: org.Name, Slug: org.Slug, Description: org.Description, IsActive: org.IsActive,
		SenderName: org.Sender.Name, ReplyTo: org.Sender.ReplyTo, PostalAddress: org.Sender.PostalAddress,
		CreatedAt: org.CreatedAt, UpdatedAt: org.UpdatedAt}
	if org.LogoETag != "" {
		l, err := q.OrganizationLogo(ctx, org.ID)
		if err != nil {
			return err
		}
		of.Logo = &logoEntry{ContentType: l.ContentType, ETag: l.ETag, File: "logo" + extension(l.ContentType),
			ThumbContentType: l.ThumbContentType, ThumbETag: l.ThumbETag, ThumbFile: "logo-thumb" + extension(l.ThumbContentType)}
		for _, f := range []struct {
			name string
			data []byte
		}{{of.Logo.File, l.Data}, {of.Logo.ThumbFile, l.Thumb}} {
			// Images are compressed already.
			w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store, Modified: modified})
			if err != nil {
				return err
			}
			if _, err := w.Write(f.data); err != nil {
				return err
			}
		}
	}
	if err := writeJSONFile(zw, "organization.json", modified, of); err != nil {
		return err
	}

	lines, err := newLines(zw, "members.jsonl", modified)
	if err != nil {
		return err
	}
	err = q.ExportMembers(ctx, org.ID, func(em store.ExportedMember) error {
		m.Counts["members"]++
		return lines.encode(memberRow{UserID: em.UserID, Email: em.Email, Name: em.Name, Role: em.Role, CreatedAt: em.CreatedAt, UpdatedAt: em.UpdatedAt})
	})
	if err != nil {
		return err
	}
	if err := lines.flush(); err != nil {
		return err
	}

	// The accounts the rows name: an import finds them by address.
	if lines, err = newLines(zw, "accounts.jsonl", modified); err != nil {
		return err
	}
	err = q.ExportReferencedAccounts(ctx, org.ID, func(id int64, email string) error {
		m.Counts["accounts"]++
		return lines.encode(accountRow{UserID: id, Email: email})
	})
	if err != nil {
		return err
	}
	if err := lines.flush(); err != nil {
		return err
	}

	for _, k := range store.TransferKinds {
		lines, err := newLines(zw, k.Name+".jsonl", modified)
		if err != nil {
			return err
		}
		count := 0
		for after := int64(0); ; {
			last, n, err := q.ExportRows(ctx, k, org.ID, after, pageSize, func(values []any) error {
				return lines.row(k, values)
			})
			if err != nil {
				return err
			}
			count += n
			if n < pageSize {
				break
			}
			after = last
		}
		if err := lines.flush(); err != nil {
			return err
		}
		m.Counts[k.Name] = count
	}
	// Last, since it holds the counts; an import reads it first.
	return writeJSONFile(zw, "manifest.json", modified, m)
}

func extension(contentType string) string {
	switch contentType {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	}
	return ".bin"
}

func writeJSONFile(zw *zip.Writer, name string, modified time.Time, v any) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// lines writes a JSON Lines file of the ZIP, one object a line.
type lines struct {
	w   *bufio.Writer
	buf []byte
}

func newLines(zw *zip.Writer, name string, modified time.Time) (*lines, error) {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
	if err != nil {
		return nil, err
	}
	return &lines{w: bufio.NewWriterSize(w, 64<<10)}, nil
}

func (l *lines) encode(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	l.w.Write(b)
	return l.w.WriteByte('\n')
}

// row writes a row of a kind as an object with the kind's field names,
// in their order.
func (l *lines) row(k store.TransferKind, values []any) error {
	b := append(l.buf[:0], '{')
	for i, f := range k.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.Name) // field names are ASCII identifiers
		b = append(b, ':')
		switch v := values[i].(type) {
		case nil:
			b = append(b, "null"...)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		case time.Time:
			b = append(b, '"')
			b = v.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		default: // strings and bytes (base64), escaped as JSON
			j, err := json.Marshal(v)
			if err != nil {
				return err
			}
			b = append(b, j...)
		}
	}
	b = append(b, '}', '\n')
	l.buf = b
	_, err := l.w.Write(b)
	return err
}

func (l *lines) flush() error { return l.w.Flush() }
