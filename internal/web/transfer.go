package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// stallTimeout is how long an export's download or an import's upload
// may make no progress: the server's one-minute deadlines are moved on
// while bytes flow, since a large organization takes longer.
const stallTimeout = time.Minute

func (s *Server) apiOrganizationExport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return s.exportOrganization(w, r, id)
}

// organizationExport is the delete page's "Download a copy first".
func (s *Server) organizationExport(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.exportOrganization(w, r, id)
	}
	if err != nil {
		s.pageError(w, r, err)
	}
}

// exportOrganization streams the export as the answer. An error returned
// comes before anything was written; one after the first byte ends the
// connection, so that the client never takes a cut-off file for a whole
// one.
func (s *Server) exportOrganization(w http.ResponseWriter, r *http.Request, id int64) error {
	started := false
	var release func()
	err := s.orgTransfer.Export(r.Context(), currentUser(r.Context()), id, func(org store.Organization) io.Writer {
		var busy error
		if release, busy = s.exports.take(currentUser(r.Context())); busy != nil {
			return failingWriter{busy}
		}
		started = true
		name := fmt.Sprintf("%s-%s.zip", org.Slug, time.Now().UTC().Format("2006-01-02"))
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return failingWriter{errHeadOnly}
		}
		return &deadlineWriter{w: w, rc: http.NewResponseController(w)}
	})
	if release != nil {
		release()
	}
	if errors.Is(err, errHeadOnly) {
		return nil
	}
	if errors.Is(err, errExportsBusy) {
		return errExportsBusy
	}
	if err != nil && started {
		if !s.clientGone(w, r, err) {
			s.logger.Error("export organization", "organization", id, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return err
}

// errHeadOnly stops an export answering HEAD at its first byte: the
// answer has no body (the route's GET pattern answers HEAD too), and the
// export would read the whole organization for nothing.
var errHeadOnly = errors.New("a HEAD request has no body")

// failingWriter stops an export before its first byte with its error.
type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// deadlineWriter moves the connection's write deadline on as it writes.
type deadlineWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	moved time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.moved) > time.Second {
		d.rc.SetWriteDeadline(now.Add(stallTimeout)) // unsupported by a test's recorder: then there is none to move
		d.moved = now
	}
	return d.w.Write(p)
}

// deadlineReader moves the connection's read deadline on as it reads.
type deadlineReader struct {
	r     io.Reader
	rc    *http.ResponseController
	moved time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.moved) > time.Second {
		d.rc.SetReadDeadline(now.Add(stallTimeout))
		d.moved = now
	}
	return d.r.Read(p)
}

// apiOrganizationImport makes an organization from an export in the body.
// The body is spooled to a temporary file first: a ZIP is read from its
// end.
func (s *Server) apiOrganizationImport(w http.ResponseWriter, r *http.Request) error {
	switch ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(ct)) {
	case "application/zip", "application/x-zip-compressed", "application/octet-stream":
	default:
		return problem.New(problem.UnsupportedType, "unsupported_media_type", "Send the export as the request body, as application/zip.")
	}
	f, err := os.CreateTemp("", "mailschool-import-*.zip")
	if err != nil {
		return fmt.Errorf("spool import: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	body := &deadlineReader{r: http.MaxBytesReader(w, r.Body, s.importMaxBytes), rc: http.NewResponseController(w)}
	size, err := io.Copy(f, body)
	if errors.As(err, new(*http.MaxBytesError)) {
		return problem.Newf(problem.TooLarge, "body_too_large", "The export is larger than %s, the most this server imports.", byteSize(s.importMaxBytes))
	}
	if err != nil {
		return fmt.Errorf("spool import: %w", err)
	}
	org, err := s.orgTransfer.Import(r.Context(), currentUser(r.Context()), f, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.organizationJSON(org))
	return nil
}

// byteSize writes a size in MiB, or KiB below one MiB.
func byteSize(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
