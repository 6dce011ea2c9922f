package mailbox

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapSession reads a folder over IMAP. Emails are named by UID, so that
// one deleted meanwhile by another node shifts nothing.
type imapSession struct {
	c        *imapclient.Client
	settings Settings
	stop     func() bool
}

func dialIMAP(ctx context.Context, s Settings, tlsConfig *tls.Config) (session, error) {
	opts := &imapclient.Options{TLSConfig: tlsConfig, Dialer: &net.Dialer{Timeout: dialTimeout}}
	var (
		c   *imapclient.Client
		err error
	)
	switch s.Security {
	case "tls":
		c, err = imapclient.DialTLS(s.Addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(s.Addr, opts)
	default:
		c, err = imapclient.DialInsecure(s.Addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// The client takes no context: closing the connection ends whatever
	// command is waiting.
	sess := &imapSession{c: c, settings: s, stop: context.AfterFunc(ctx, func() { c.Close() })}
	if err := c.Login(s.Username, s.Password).Wait(); err != nil {
		sess.close()
		return nil, fmt.Errorf("log in as %s: %w", s.Username, err)
	}
	if _, err := c.Select(s.Folder, nil).Wait(); err != nil {
		sess.close()
		return nil, fmt.Errorf("open folder %s: %w", s.Folder, err)
	}
	return sess, nil
}

func (s *imapSession) list(max int) ([]entry, error) {
	data, err := s.c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	if len(uids) > max {
		uids = uids[:max]
	}
	if len(uids) == 0 {
		return nil, nil
	}
	msgs, err := s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch sizes: %w", err)
	}
	entries := make([]entry, 0, len(msgs))
	for _, m := range msgs {
		entries = append(entries, entry{id: uint32(m.UID), size: m.RFC822Size})
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
	return entries, nil
}

func (s *imapSession) fetch(ids []uint32, fn func(id uint32, raw []byte)) error {
	if len(ids) == 0 {
		return nil
	}
	cmd := s.c.Fetch(imap.UIDSetNum(toUIDs(ids)...), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	defer cmd.Close()
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if len(buf.BodySection) == 0 || buf.UID == 0 {
			continue // an update about another email
		}
		fn(uint32(buf.UID), buf.BodySection[0].Bytes)
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

func (s *imapSession) remove(ids []uint32) error {
	if len(ids) == 0 {
		return nil
	}
	set := imap.UIDSetNum(toUIDs(ids)...)
	if s.settings.Processed != "" {
		_, err := s.c.Move(set, s.settings.Processed).Wait()
		var imapErr *imap.Error
		if errors.As(err, &imapErr) && imapErr.Code == imap.ResponseCodeTryCreate {
			// The folder does not exist yet: made once, on first use.
			if err := s.c.Create(s.settings.Processed, nil).Wait(); err != nil {
				return fmt.Errorf("create folder %s: %w", s.settings.Processed, err)
			}
			_, err = s.c.Move(set, s.settings.Processed).Wait()
		}
		if err != nil {
			return fmt.Errorf("move to %s: %w", s.settings.Processed, err)
		}
		return nil
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := s.c.Store(set, store, nil).Close(); err != nil {
		return fmt.Errorf("mark deleted: %w", err)
	}
	// UID EXPUNGE removes only these; a plain EXPUNGE would also remove
	// what someone else marked deleted, which is theirs to decide.
	expunge := s.c.Expunge
	if s.c.Caps().Has(imap.CapUIDPlus) || s.c.Caps().Has(imap.CapIMAP4rev2) {
		expunge = func() *imapclient.ExpungeCommand { return s.c.UIDExpunge(set) }
	}
	if err := expunge().Close(); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	return nil
}

// close logs out. Its errors are not the run's: what was removed was
// expunged already, and a server may drop the connection at LOGOUT.
func (s *imapSession) close() error {
	defer s.stop()
	s.c.Logout().Wait()
	s.c.Close()
	return nil
}

func toUIDs(ids []uint32) []imap.UID {
	uids := make([]imap.UID, len(ids))
	for i, id := range ids {
		uids[i] = imap.UID(id)
	}
	return uids
}
