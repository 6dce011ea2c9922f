package transfer

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// DefaultMaxImportBytes is the largest export an import reads unless the
// server is given another limit: far above an organization of a million
// enrollments (about 45 MiB with two deliveries each, see
// docs/BENCHMARKS.md), with room for long lessons and many emails each.
const DefaultMaxImportBytes = 2 << 30

// maxSmallFile bounds the files an import reads whole: the manifest and
// organization.json.
const maxSmallFile = 1 << 20

// maxLine bounds one line of a JSON Lines file: a lesson's body (at most
// a few hundred KiB) or a certificate with its QR code.
const maxLine = 16 << 20

// maxLogo bounds each logo file, as an upload is bounded.
const maxLogo = 2 << 20

// ErrForbidden is the answer to an import by anyone but a platform admin
// (or a platform key).
var ErrForbidden = problem.New(problem.Forbidden, "forbidden", "Only platform admins import organizations.")

func malformed(format string, args ...any) error {
	return problem.Newf(problem.Malformed, "invalid_export", format, args...)
}

// Import makes an organization from an export: size bytes readable at r
// (a spooled upload; a ZIP is read from its end). The manifest is
// checked first; then everything is created in one transaction, so that
// an error leaves nothing behind. Members join with their roles: an
// address with an account here is that account, any other gets an
// account without a password, which its owner sets through "forgot
// password".
func (s *Service) Import(ctx context.Context, actor *store.User, r io.ReaderAt, size int64) (store.Organization, error) {
	if !access.AllowedOnPlatform(actor, access.ImportOrganization) {
		return store.Organization{}, ErrForbidden
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return store.Organization{}, malformed("The file is not a ZIP archive made by an organization export: %v.", err)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	var m Manifest
	if err := readJSONFile(files, "manifest.json", &m); err != nil {
		return store.Organization{}, err
	}
	if m.Format != Format {
		return store.Organization{}, malformed("The file is not an organization export: its manifest names the format %q.", m.Format)
	}
	if m.FormatVersion != FormatVersion {
		return store.Organization{}, problem.Newf(problem.Invalid, "unsupported_export_version",
			"The export is of format version %d; this version of mailschool (%s) reads version %d.", m.FormatVersion, s.version, FormatVersion)
	}
	var of organizationFile
	if err := readJSONFile(files, "organization.json", &of); err != nil {
		return store.Organization{}, err
	}
	var logo *store.Logo
	if of.Logo != nil {
		l := store.Logo{ContentType: of.Logo.ContentType, ETag: of.Logo.ETag, ThumbContentType: of.Logo.ThumbContentType, ThumbETag: of.Logo.ThumbETag}
		if l.Data, err = readFile(files, of.Logo.File, maxLogo); err != nil {
			return store.Organization{}, err
		}
		if l.Thumb, err = readFile(files, of.Logo.ThumbFile, maxLogo); err != nil {
			return store.Organization{}, err
		}
		logo = &l
	}
	for _, name := range append([]string{"members", "accounts"}, kindNames()...) {
		if files[name+".jsonl"] == nil {
			return store.Organization{}, malformed("The export has no %s.jsonl.", name)
		}
	}

	var org store.Organization
	err = s.db.InTx(ctx, func(q *store.Queries) error {
		if err := q.StartImport(ctx); err != nil {
			return err
		}
		fields, err := orgs.AdmitImported(ctx, q, of.Name, of.Description, of.Slug,
			store.Sender{Name: of.SenderName, ReplyTo: of.ReplyTo, PostalAddress: of.PostalAddress})
		if err != nil {
			return err
		}
		if org, err = q.ImportOrganization(ctx, fields, of.IsActive, of.CreatedAt, of.UpdatedAt); err != nil {
			return err
		}
		if logo != nil {
			if err := q.SetOrganizationLogo(ctx, org.ID, *logo); err != nil {
				return err
			}
		}
		counts := map[string]int{}
		err = eachLine(files["members.jsonl"], func(line int, b []byte) error {
			counts["members"]++
			return s.importMember(ctx, q, org.ID, line, b)
		})
		if err != nil {
			return err
		}
		err = eachLine(files["accounts.jsonl"], func(line int, b []byte) error {
			counts["accounts"]++
			return importAccount(ctx, q, line, b)
		})
		if err != nil {
			return err
		}
		for _, k := range store.TransferKinds {
			imp := rowImporter{s: s, q: q, k: k, orgID: org.ID}
			err := eachLine(files[k.Name+".jsonl"], func(line int, b []byte) error {
				counts[k.Name]++
				return imp.row(ctx, line, b)
			})
			if err != nil {
				return err
			}
		}
		for _, name := range append([]string{"members", "accounts"}, kindNames()...) {
			if m.Counts[name] != counts[name] {
				return malformed("The export is incomplete: its manifest counts %d %s, its file holds %d.", m.Counts[name], name, counts[name])
			}
		}
		err = orgs.Record(ctx, q, orgs.Event{Kind: orgs.OrganizationImported, OrganizationID: org.ID, Actor: actor, Target: org.Name,
			New: map[string]string{"name": org.Name, "slug": org.Slug, "exported_at": m.ExportedAt.UTC().Format(time.RFC3339)}})
		if err != nil {
			return err
		}
		return q.EndImport(ctx)
	})
	if err != nil {
		return store.Organization{}, fmt.Errorf("import organization: %w", err)
	}
	return s.db.Read().OrganizationByID(ctx, org.ID)
}

func kindNames() []string {
	names := make([]string, len(store.TransferKinds))
	for i, k := range store.TransferKinds {
		names[i] = k.Name
	}
	return names
}

func readFile(files map[string]*zip.File, name string, limit int64) ([]byte, error) {
	f := files[name]
	if f == nil {
		return nil, malformed("The export has no %s.", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, malformed("The export's %s cannot be read: %v.", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, malformed("The export's %s cannot be read: %v.", name, err)
	}
	if int64(len(b)) > limit {
		return nil, malformed("The export's %s is larger than %d KiB.", name, limit>>10)
	}
	return b, nil
}

func readJSONFile(files map[string]*zip.File, name string, v any) error {
	b, err := readFile(files, name, maxSmallFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return malformed("The export's %s is not valid JSON: %v.", name, err)
	}
	return nil
}

// eachLine calls fn with each non-empty line of a JSON Lines file, as it
// is decompressed.
func eachLine(f *zip.File, fn func(line int, b []byte) error) error {
	rc, err := f.Open()
	if err != nil {
		return malformed("The export's %s cannot be read: %v.", f.Name, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fn(n, sc.Bytes()); err != nil {
			if p, ok := problem.As(err); ok && p.Kind == problem.Malformed && !strings.Contains(p.Message, f.Name) {
				return malformed("%s, line %d: %s", f.Name, n, p.Message)
			}
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return malformed("The export's %s cannot be read: %v.", f.Name, err)
	}
	return nil
}

// importMember adds a member: the account with the address, or a new one
// without a password.
func (s *Service) importMember(ctx context.Context, q *store.Queries, orgID int64, line int, b []byte) error {
	var mr memberRow
	if err := json.Unmarshal(b, &mr); err != nil {
		return malformed("members.jsonl, line %d: %v.", line, err)
	}
	email := strings.ToLower(strings.TrimSpace(mr.Email))
	if !access.Role(mr.Role).Valid() || email == "" || !strings.Contains(email, "@") {
		return malformed("members.jsonl, line %d: a member needs an address and a role.", line)
	}
	u, err := q.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		u, err = q.CreateUser(ctx, store.NewUser{Email: email, Name: mr.Name})
	}
	if err != nil {
		return err
	}
	if err := q.ImportMembership(ctx, orgID, u.ID, mr.Role, mr.CreatedAt, mr.UpdatedAt); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return malformed("members.jsonl, line %d: %s is a member twice, or a second owner.", line, email)
		}
		return err
	}
	return q.MapImportedID(ctx, "users", mr.UserID, u.ID)
}

// importAccount maps an account the rows name to the account with its
// address here, if there is one and it is not a member (mapped already).
// No account is created for it: such rows keep the address they show.
func importAccount(ctx context.Context, q *store.Queries, line int, b []byte) error {
	var ar accountRow
	if err := json.Unmarshal(b, &ar); err != nil {
		return malformed("accounts.jsonl, line %d: %v.", line, err)
	}
	if _, err := q.ImportedID(ctx, "users", ar.UserID); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	u, err := q.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(ar.Email)))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return q.MapImportedID(ctx, "users", ar.UserID, u.ID)
}

// rowImporter inserts the rows of one kind.
type rowImporter struct {
	s     *Service
	q     *store.Queries
	k     store.TransferKind
	orgID int64
}

func (ri rowImporter) row(ctx context.Context, line int, b []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return malformed("not a JSON object: %v.", err)
	}
	values := make([]any, len(ri.k.Fields))
	for i, f := range ri.k.Fields {
		raw, ok := obj[f.Name]
		if !ok || string(raw) == "null" {
			if f.Nullable {
				continue
			}
			return malformed("%q is missing.", f.Name)
		}
		v, err := decodeValue(f.Type, raw)
		if err != nil {
			return malformed("%q: %v.", f.Name, err)
		}
		values[i] = v
	}
	if _, ok := values[0].(int64); !ok {
		return malformed("the row has no id.")
	}
	switch ri.k.Name {
	case "deliveries":
		// A delivery being sent had its job in the other install: here
		// the periodic pass hands it to one, as it does every scheduled
		// delivery that comes due.
		if i := fieldIndex(ri.k, "status"); values[i] == "sending" {
			values[i] = "scheduled"
		}
	case "quiz_attempts":
		i := fieldIndex(ri.k, "answers")
		answers, err := ri.remapAnswers(ctx, values[i].(string))
		if err != nil {
			return err
		}
		values[i] = answers
	case "certificates":
		// A number is a public verification address: it stays when it is
		// free. Taken (the organization imported into the install it came
		// from), the certificate gets a new one: the old address still
		// verifies the original, which is as true as it was.
		i := fieldIndex(ri.k, "number")
		taken, err := ri.q.CertificateNumberTaken(ctx, values[i].(string))
		if err != nil {
			return err
		}
		if taken {
			values[i] = learning.NewCertificateNumber()
		}
		// A claimed certificate's QR code shows its page's address, which
		// is here now.
		if qr := fieldIndex(ri.k, "qr_png"); values[qr] != nil {
			if values[qr], err = ri.s.certificates.CertificateQR(values[i].(string)); err != nil {
				return err
			}
		}
	}
	err := ri.q.ImportRow(ctx, ri.k, ri.orgID, values)
	switch {
	case errors.Is(err, store.ErrDanglingReference):
		return malformed("the row refers to a row the export does not hold.")
	case errors.Is(err, store.ErrConflict):
		return malformed("the row repeats another (an id, or a unique value).")
	case errors.Is(err, store.ErrInvalidValue):
		return malformed("the row holds a value this install does not accept (a status, a time).")
	}
	return err
}

// remapAnswers rewrites a quiz attempt's answers, the chosen answer ids
// by question id, with the ids they have here.
func (ri rowImporter) remapAnswers(ctx context.Context, answers string) (string, error) {
	var chosen map[string][]int64
	if err := json.Unmarshal([]byte(answers), &chosen); err != nil {
		return "", malformed("\"answers\" is not a map of question ids to answer ids: %v.", err)
	}
	out := make(map[string][]int64, len(chosen))
	for question, ids := range chosen {
		old, err := strconv.ParseInt(question, 10, 64)
		if err != nil {
			return "", malformed("\"answers\" names the question %q.", question)
		}
		newQuestion, err := ri.q.ImportedID(ctx, "quiz_questions", old)
		if errors.Is(err, store.ErrNotFound) {
			continue // a question removed since the answer
		} else if err != nil {
			return "", err
		}
		mapped := make([]int64, 0, len(ids))
		for _, id := range ids {
			newID, err := ri.q.ImportedID(ctx, "quiz_answers", id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return "", err
			}
			mapped = append(mapped, newID)
		}
		out[strconv.FormatInt(newQuestion, 10)] = mapped
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func fieldIndex(k store.TransferKind, name string) int {
	for i, f := range k.Fields {
		if f.Name == name {
			return i
		}
	}
	panic("transfer: kind " + k.Name + " has no field " + name)
}

func decodeValue(t store.FieldType, raw json.RawMessage) (any, error) {
	switch t {
	case store.FieldInt:
		var v int64
		err := json.Unmarshal(raw, &v)
		return v, err
	case store.FieldText:
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	case store.FieldBool:
		var v bool
		err := json.Unmarshal(raw, &v)
		return v, err
	case store.FieldTime:
		var v time.Time
		err := json.Unmarshal(raw, &v)
		return v.UTC(), err
	case store.FieldBytes:
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(v)
	}
	return nil, fmt.Errorf("unknown field type %d", t)
}
