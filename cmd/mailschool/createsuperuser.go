package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

func createSuperuser(ctx context.Context, a *app, args []string) error {
	var (
		cfg         config.Config
		email, name string
	)
	fs := a.newFlagSet("createsuperuser", "createsuperuser --email EMAIL [flags]\n\n"+
		"The password comes from MAILSCHOOL_PASSWORD, or from standard input (asked twice,\n"+
		"without echo, on a terminal; the first line otherwise). An existing user is\n"+
		"promoted, and keeps their password and name unless new ones are given.")
	fs.StringVar(&email, "email", "", "email address of the admin (required)")
	fs.StringVar(&name, "name", "", "the admin's name, as shown to other staff")
	cfg.Register(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if email == "" {
		fmt.Fprintln(a.stderr, "--email is required")
		fs.Usage()
		return errUsage
	}
	normalized, err := auth.NormalizeEmail(email)
	if err != nil {
		return fmt.Errorf("%q: %w", email, err)
	}
	if name != "" {
		// Checked before the password is asked for.
		if _, err := auth.CleanName(name); err != nil {
			return fmt.Errorf("--name: %w", err)
		}
	}
	db, err := openDatabase(ctx, a, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	_, err = db.Read().UserByEmail(ctx, normalized)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	password, err := a.readPassword(exists)
	if err != nil {
		return err
	}
	// Creating an admin sends no email, so no mailer is needed.
	user, created, err := auth.NewAccounts(db, nil).CreateSuperuser(ctx, normalized, password, name)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(a.stdout, "Created platform admin %s.\n", user.Email)
	} else {
		fmt.Fprintf(a.stdout, "%s is now a platform admin.\n", user.Email)
	}
	// Every organization has an owner; a new install's default one gets
	// its first platform admin.
	adopted, err := orgs.NewService(db, orgs.Config{}).AdoptOwnerless(ctx, &user)
	if err != nil {
		return err
	}
	for _, name := range adopted {
		fmt.Fprintf(a.stdout, "%s now owns %q.\n", user.Email, name)
	}
	return nil
}

// readPassword gets the new password from MAILSCHOOL_PASSWORD or standard
// input. For an existing account an empty answer keeps the old password.
func (a *app) readPassword(exists bool) (string, error) {
	if p := a.env("MAILSCHOOL_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		prompt := "Password: "
		if exists {
			prompt = "New password (empty keeps the current one): "
		}
		first, err := a.promptHidden(f, prompt)
		if err != nil || first == "" {
			return first, err
		}
		if err := auth.ValidatePassword(first); err != nil {
			return "", err
		}
		second, err := a.promptHidden(f, "Password (again): ")
		if err != nil {
			return "", err
		}
		if first != second {
			return "", errors.New("the two passwords do not match")
		}
		return first, nil
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		if exists {
			return "", nil
		}
		return "", errors.New("no password given: set MAILSCHOOL_PASSWORD or write the password to standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (a *app) promptHidden(f *os.File, prompt string) (string, error) {
	fmt.Fprint(a.stderr, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}
