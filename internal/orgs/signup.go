package orgs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// SignupPolicy says who may sign up for an organization of their own: no
// one (the default: platform admins create organizations), anyone, or the
// addresses at some domains (a university's).
type SignupPolicy struct {
	Open    bool
	Domains []string // when not empty, only addresses at these domains
}

// ParseSignupPolicy reads the MAILSCHOOL_SIGNUP setting: "closed", "open"
// or "domains:" and a comma-separated list of domains.
func ParseSignupPolicy(s string) (SignupPolicy, error) {
	switch s = strings.TrimSpace(s); {
	case s == "" || s == "closed":
		return SignupPolicy{}, nil
	case s == "open":
		return SignupPolicy{Open: true}, nil
	case strings.HasPrefix(s, "domains:"):
		var p SignupPolicy
		for _, d := range strings.Split(strings.TrimPrefix(s, "domains:"), ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "" {
				continue
			}
			if _, err := auth.NormalizeEmail("someone@" + d); err != nil || strings.Contains(d, "@") {
				return SignupPolicy{}, fmt.Errorf("%q is not a domain", d)
			}
			p.Domains = append(p.Domains, d)
		}
		if len(p.Domains) == 0 {
			return SignupPolicy{}, errors.New(`"domains:" needs at least one domain, as in domains:example.edu`)
		}
		p.Open = true
		return p, nil
	}
	return SignupPolicy{}, errors.New(`must be closed, open, or domains: and a list of domains (domains:example.edu,example.org)`)
}

// String is the policy as the setting writes it.
func (p SignupPolicy) String() string {
	switch {
	case !p.Open:
		return "closed"
	case len(p.Domains) > 0:
		return "domains:" + strings.Join(p.Domains, ",")
	}
	return "open"
}

// Admits reports whether the normalized address may sign up.
func (p SignupPolicy) Admits(email string) bool {
	if !p.Open {
		return false
	}
	if len(p.Domains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	return at >= 0 && slices.Contains(p.Domains, email[at+1:])
}

// SignupValidity is how long a sign-up's confirmation link works.
const SignupValidity = 24 * time.Hour

// Errors of sign-ups.
var (
	ErrSignupClosed      = problem.New(problem.NotFound, "signup_closed", "Sign-up is closed on this platform.")
	ErrSignupLinkInvalid = problem.New(problem.NotFound, "signup_link_invalid",
		"This sign-up link is not valid. Sign up again.")
	ErrSignupLinkExpired = problem.New(problem.Gone, "signup_link_expired",
		"This sign-up link has expired or was already used. Sign up again, or log in if you confirmed it.")
	ErrSignupAccountExists = problem.New(problem.Conflict, "account_exists",
		"An account with this address exists now. Log in with it; you can create an organization from the organization list.")
)

// SignupForm is what a visitor gives to sign up.
type SignupForm struct {
	Email, Name, Password, Organization string
}

// ValidSignup is a sign-up form that passed its checks, cleaned, with the
// password hashed.
type ValidSignup struct {
	Email                            string // normalized
	name, organization, passwordHash string
}

// ValidateSignup checks a sign-up form, reporting every field in error at
// once, and hashes its password.
func (s *Service) ValidateSignup(ctx context.Context, f SignupForm) (ValidSignup, error) {
	if !s.signup.Open {
		return ValidSignup{}, ErrSignupClosed
	}
	fields := map[string]string{}
	email, err := auth.NormalizeEmail(f.Email)
	switch {
	case err != nil:
		fields["email"] = "Enter a valid email address."
	case !s.signup.Admits(email):
		fields["email"] = fmt.Sprintf("Sign-up is open to addresses at %s only.", strings.Join(s.signup.Domains, ", "))
	}
	name, err := auth.CleanName(f.Name)
	if p, ok := problem.As(err); ok {
		fields["name"] = p.Fields["name"]
	} else if err != nil {
		return ValidSignup{}, err
	}
	orgName, _, _, err := validate(f.Organization, "", store.Sender{})
	if p, ok := problem.As(err); ok {
		fields["organization"] = p.Fields["name"]
	}
	if err := auth.ValidatePassword(f.Password); err != nil {
		p, ok := problem.As(err)
		if !ok {
			return ValidSignup{}, err
		}
		fields["password"] = p.Fields["password"]
	}
	if len(fields) == 0 {
		// Organization names are public (on their public pages): saying
		// that one is taken tells nothing about anyone's account.
		taken, err := nameTaken(ctx, s.db.Read(), orgName, 0)
		if err != nil {
			return ValidSignup{}, err
		}
		if taken {
			fields["organization"] = fmt.Sprintf("An organization called %q exists already: choose another name.", orgName)
		}
	}
	if len(fields) > 0 {
		return ValidSignup{}, &problem.Error{Kind: problem.Invalid, Code: "invalid_signup",
			Message: "You were not signed up: correct the marked fields.", Fields: fields}
	}
	hash, err := auth.HashPassword(ctx, f.Password)
	if err != nil {
		return ValidSignup{}, err
	}
	return ValidSignup{Email: email, name: name, organization: orgName, passwordHash: hash}, nil
}

// RequestSignup records a valid sign-up and queues the job that emails the
// address, the same whether or not the address has an account (the job
// decides which email goes out) or is over its limit (overLimit: the job
// sends nothing). Nothing else exists until the link is used.
func (s *Service) RequestSignup(ctx context.Context, v ValidSignup, overLimit bool) error {
	at := s.now().UTC()
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		id, err := q.CreateSignup(ctx, store.NewSignup{Email: v.Email, Name: v.name, PasswordHash: v.passwordHash,
			OrganizationName: v.organization, CreatedAt: at, ExpiresAt: at.Add(SignupValidity)})
		if err != nil {
			return err
		}
		_, err = q.Enqueue(ctx, SignupRequestArgs{SignupID: id, OverLimit: overLimit}, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("sign up %s: %w", v.Email, err)
	}
	return nil
}

// sendSignup emails a recorded sign-up: the confirmation link, or, when
// the address has an account, how to log in (and the sign-up is dropped).
func (s *Service) sendSignup(ctx context.Context, id int64) error {
	token, hash := auth.NewToken()
	return s.db.InTx(ctx, func(q *store.Queries) error {
		su, err := q.SignupByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // swept meanwhile
		}
		if err != nil {
			return err
		}
		if su.HasLink {
			return nil // a run of the job that committed before it was cut off: the link it sent stands
		}
		if _, err := q.UserByEmail(ctx, su.Email); err == nil {
			if _, err := q.DeleteSignup(ctx, id); err != nil {
				return err
			}
			_, err = s.mail.Enqueue(ctx, q, mail.Email{Kind: mail.KindSignupExisting, To: su.Email})
			return err
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := q.SetSignupToken(ctx, id, hash); err != nil {
			return err
		}
		_, err = s.mail.Enqueue(ctx, q, mail.Email{Kind: mail.KindSignupConfirm, To: su.Email,
			Data: mail.SignupConfirm{OrganizationName: su.OrganizationName, Token: token, ExpiresAt: su.ExpiresAt}})
		return err
	})
}

// Signup is a sign-up as its link's page shows it.
type Signup struct {
	Email, OrganizationName string
}

// CheckSignup reports what the link token would create, without using it,
// so that link scanners that fetch the page create nothing.
func (s *Service) CheckSignup(ctx context.Context, token string) (Signup, error) {
	su, err := s.signupByToken(ctx, s.db.Read(), token, s.now())
	if err != nil {
		return Signup{}, err
	}
	return Signup{Email: su.Email, OrganizationName: su.OrganizationName}, nil
}

func (s *Service) signupByToken(ctx context.Context, q *store.Queries, token string, at time.Time) (store.Signup, error) {
	if !s.signup.Open {
		return store.Signup{}, ErrSignupClosed
	}
	su, err := q.SignupByTokenHash(ctx, auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Signup{}, ErrSignupLinkInvalid
	}
	if err != nil {
		return store.Signup{}, err
	}
	if su.ConfirmedAt != nil || !at.Before(su.ExpiresAt) {
		return store.Signup{}, ErrSignupLinkExpired
	}
	return su, nil
}

// ConfirmSignup uses a sign-up link: in one transaction it creates the
// user and the organization, with the user as its owner, and records them
// on the sign-up. The caller logs the user in.
func (s *Service) ConfirmSignup(ctx context.Context, token string) (store.User, store.Organization, error) {
	at := s.now().UTC()
	var (
		user store.User
		org  store.Organization
	)
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		su, err := s.signupByToken(ctx, q, token, at)
		if err != nil {
			return err
		}
		if !s.signup.Admits(su.Email) {
			return ErrSignupClosed // the domains changed since
		}
		user, err = q.CreateUser(ctx, store.NewUser{Email: su.Email, Name: su.Name, PasswordHash: su.PasswordHash})
		if errors.Is(err, store.ErrConflict) {
			return ErrSignupAccountExists
		}
		if err != nil {
			return err
		}
		if org, err = s.create(ctx, q, &user, su.OrganizationName, "", store.Sender{}); err != nil {
			return err
		}
		if err := s.addMember(ctx, q, &user, org, user, access.Owner, false); err != nil {
			return err
		}
		confirmed, err := q.ConfirmSignup(ctx, auth.HashToken(token), at, user.ID, org.ID)
		if err != nil {
			return err
		}
		if !confirmed {
			return ErrSignupLinkExpired // a concurrent confirmation won
		}
		return nil
	})
	if p, ok := problem.As(err); ok {
		return store.User{}, store.Organization{}, p
	}
	if err != nil {
		return store.User{}, store.Organization{}, fmt.Errorf("confirm sign-up: %w", err)
	}
	return user, org, nil
}

// SignupsPageSize is how many sign-ups a page of the platform's list shows.
const SignupsPageSize = 50

// SignupsPage is a page of the platform's list of sign-ups.
type SignupsPage struct {
	Signups     []store.ConfirmedSignup
	Page, Pages int
	Total       int
}

// Signups lists the confirmed sign-ups, newest first, for platform admins.
func (s *Service) Signups(ctx context.Context, actor *store.User, page int) (SignupsPage, error) {
	if !access.AllowedOnPlatform(actor, access.ViewAllOrganizations) {
		return SignupsPage{}, ErrForbidden
	}
	q := s.db.Read()
	total, err := q.CountConfirmedSignups(ctx)
	if err != nil {
		return SignupsPage{}, err
	}
	pages := max(1, (total+SignupsPageSize-1)/SignupsPageSize)
	page = min(max(page, 1), pages)
	list, err := q.ConfirmedSignups(ctx, SignupsPageSize, store.Offset(page, SignupsPageSize))
	if err != nil {
		return SignupsPage{}, err
	}
	return SignupsPage{Signups: list, Page: page, Pages: pages, Total: total}, nil
}

// SignupRequestArgs is the job that emails a sign-up.
type SignupRequestArgs struct {
	SignupID  int64 `json:"signup_id"`
	OverLimit bool  `json:"over_limit,omitempty"`
}

// Kind names the job for River.
func (SignupRequestArgs) Kind() string { return "signup_request" }

// InsertOpts puts the job on the mail queue, which every working node
// works; a link that arrives long after it was asked for puzzles more than
// it helps, so it gives up after a few retries.
func (SignupRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: mail.Queue, MaxAttempts: 5}
}

type signupRequestWorker struct {
	river.WorkerDefaults[SignupRequestArgs]
	service *Service
}

func (w *signupRequestWorker) Work(ctx context.Context, job *river.Job[SignupRequestArgs]) error {
	if job.Args.OverLimit {
		return nil
	}
	return w.service.sendSignup(ctx, job.Args.SignupID)
}
